"""Continue a prompt with a trained language model.

python -m dl101.sample experiment=char_lm ckpt_path=last prompt="It is raining" temperature=0.8
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from dl101 import CONFIG_DIR
from dl101.errors import InputError, error_boundary


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="sample")
def main(cfg: DictConfig) -> None:
    from pytorch_lightning import seed_everything  # torch and Lightning: at run time
    from rich.console import Console

    from dl101.run.checkpoints import resolve_ckpt_path
    from dl101.run.inference import generate, load_for_prediction

    with error_boundary():
        ckpt_path = resolve_ckpt_path(
            cfg.ckpt_path, cfg.paths.log_dir, cfg.train_task_name, cfg.experiment_name
        )
        seed_everything(cfg.seed, verbose=False)
        model, datamodule = load_for_prediction(ckpt_path)
        if not hasattr(datamodule, "vocab"):
            raise InputError(
                f"ckpt_path={ckpt_path}: not a language model (train one: "
                "python -m dl101.train experiment=char_lm)"
            )
        text = generate(
            model, datamodule.vocab, datamodule.level, cfg.prompt, cfg.length, cfg.temperature
        )
    Console().print(text, markup=False, highlight=False)


if __name__ == "__main__":
    main()
