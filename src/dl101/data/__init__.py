from dl101.data.mnist import MNISTDataModule

__all__ = ["MNISTDataModule"]
