from dl101.data.mnist import MNISTDataModule
from dl101.data.tables import SyntheticRegression, TableDataModule

__all__ = ["MNISTDataModule", "SyntheticRegression", "TableDataModule"]
