"""Predict from raw inputs with a trained checkpoint.

python -m dl101.predict ckpt_path=logs/.../last.ckpt input=[2000] reference=400
python -m dl101.predict ckpt_path=... 'input=[[2104,3],[1416,2]]'
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from dl101 import CONFIG_DIR


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="predict")
def main(cfg: DictConfig) -> None:
    from rich.console import Console

    from dl101.inference import as_rows, load_for_prediction, prediction_table  # torch: at run time

    model, datamodule = load_for_prediction(cfg.ckpt_path)
    table = prediction_table(model, datamodule, as_rows(cfg.input), reference=cfg.get("reference"))
    Console().print(table)


if __name__ == "__main__":
    main()
