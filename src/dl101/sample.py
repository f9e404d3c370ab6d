"""Continue a prompt with a trained language model.

python -m dl101.sample ckpt_path=logs/.../last.ckpt prompt="It is raining" temperature=0.8
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from dl101 import CONFIG_DIR


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="sample")
def main(cfg: DictConfig) -> None:
    from pytorch_lightning import seed_everything  # torch and Lightning: at run time
    from rich.console import Console

    from dl101.inference import generate, load_for_prediction

    seed_everything(cfg.seed, verbose=False)
    model, datamodule = load_for_prediction(cfg.ckpt_path)
    text = generate(
        model, datamodule.vocab, datamodule.level, cfg.prompt, cfg.length, cfg.temperature
    )
    Console().print(text, markup=False, highlight=False)


if __name__ == "__main__":
    main()
