"""A sweep's job configs, each distinct choice of config groups composed once.

Hydra composes every job of a sweep from scratch (its defaults list, every config file read and
merged: about 0.15 s a job here), then applies the job's plain overrides (`seed=3`,
`model.optimizer.lr=0.1`, `+key=`, `~key`) to the result. Jobs that choose the same config
groups (`regularization=dropout`) differ only in those: `ComposeOnce` composes their groups once
and applies each job's plain overrides to a copy with Hydra's own function, setting what Hydra
derives from them (`hydra.overrides.task`, `hydra.job.override_dirname`). A 100-seed sweep then
composes one config instead of 100 (tests/test_sweep_configs.py: equal to Hydra's, job by job).
"""

from __future__ import annotations

import copy

from hydra._internal.config_loader_impl import ConfigLoaderImpl, get_overrides_dirname
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from omegaconf import DictConfig, OmegaConf, open_dict


class ComposeOnce:
    """`load_sweep_config(master_config, overrides)` as Hydra's config loader's, composing the
    config groups a job chooses once per choice. Anything it cannot do as Hydra does (an
    override it cannot apply) is composed by Hydra, who reports it."""

    def __init__(self, config_loader: ConfigLoaderImpl):
        self.loader = config_loader
        self.compose = config_loader.load_sweep_config
        self.parser = OverridesParser.create()
        self.composed: dict[tuple[str, ...], DictConfig] = {}

    def chooses(self, override: Override) -> bool:
        """An override Hydra needs while it composes: a config group's choice, a package,
        anything about Hydra's own config."""
        return (
            override.is_hydra_override()
            or override.package is not None
            or self.loader.repository.group_exists(override.key_or_group)
        )

    def load_sweep_config(
        self, master_config: DictConfig, sweep_overrides: list[str]
    ) -> DictConfig:
        overrides = list(sweep_overrides)
        parsed = self.parser.parse_overrides(overrides=overrides)
        choices = tuple(o.input_line for o in parsed if self.chooses(o))
        plain = [o for o in parsed if not self.chooses(o)]
        if choices not in self.composed:
            self.composed[choices] = self.compose(master_config, list(choices))
        config = copy.deepcopy(self.composed[choices])
        if not plain:
            return config
        try:
            ConfigLoaderImpl._apply_overrides_to_config(plain, config)
        except Exception:
            return self.compose(master_config, overrides)  # Hydra's own error
        task = [o for o in parsed if not o.is_hydra_override()]
        job = config.hydra.job
        with open_dict(config.hydra):
            config.hydra.overrides.task = [o.input_line for o in task]
            job.override_dirname = get_overrides_dirname(
                overrides=task,
                kv_sep=job.config.override_dirname.kv_sep,
                item_sep=job.config.override_dirname.item_sep,
                exclude_keys=job.config.override_dirname.exclude_keys,
            )
        OmegaConf.copy_cache(from_config=master_config, to_config=config)
        return config
