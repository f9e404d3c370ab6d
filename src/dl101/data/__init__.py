from dl101.data.mnist import MNISTDataModule
from dl101.data.tables import SyntheticRegression, TableDataModule
from dl101.data.text import TextDataModule


def model_args(datamodule) -> dict:
    """Constructor arguments that only the data knows (a text vocabulary's size)."""
    return datamodule.model_args() if hasattr(datamodule, "model_args") else {}


__all__ = [
    "MNISTDataModule",
    "SyntheticRegression",
    "TableDataModule",
    "TextDataModule",
    "model_args",
]
