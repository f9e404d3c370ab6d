"""Predict with a trained checkpoint, on pictures of digits or on raw inputs.

python -m dl101.predict ckpt_path=last input=digit.png    (or a folder of images)
python -m dl101.predict experiment_name=course_linear_regression ckpt_path=last \
    input=[2000] reference=400
python -m dl101.predict ckpt_path=... 'input=[[2104,3],[1416,2]]'
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from dl101 import CONFIG_DIR
from dl101.errors import error_boundary


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="predict")
def main(cfg: DictConfig) -> None:
    from rich.console import Console

    from dl101.data.images import image_files
    from dl101.run.checkpoints import resolve_ckpt_path  # torch: at run time
    from dl101.run.inference import as_rows, image_table, load_for_prediction, prediction_table

    with error_boundary():
        ckpt_path = resolve_ckpt_path(
            cfg.ckpt_path, cfg.paths.log_dir, cfg.train_task_name, cfg.experiment_name
        )
        model, datamodule = load_for_prediction(ckpt_path)
        if isinstance(cfg.input, str):  # a path: pictures of digits
            table = image_table(model, datamodule, image_files(cfg.input), top=cfg.top)
        else:
            rows = as_rows(cfg.input)
            table = prediction_table(model, datamodule, rows, reference=cfg.get("reference"))
        Console().print(table)
        Console().print(f"checkpoint: {ckpt_path}", style="dim", soft_wrap=True, markup=False)


if __name__ == "__main__":
    main()
