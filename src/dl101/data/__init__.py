"""Datamodules (each keeps the contract in `dl101.data.base`) and where their data come from."""

from dl101.data.base import DataModule, model_args
from dl101.data.folders import ImageFolderDataModule
from dl101.data.mnist import MNISTDataModule
from dl101.data.tables import SyntheticRegression, TableDataModule
from dl101.data.text import TextDataModule

__all__ = [
    "DataModule",
    "ImageFolderDataModule",
    "MNISTDataModule",
    "SyntheticRegression",
    "TableDataModule",
    "TextDataModule",
    "model_args",
]
