from dl101.models.base import Classifier
from dl101.models.softmax_regression import SoftmaxRegression

__all__ = ["Classifier", "SoftmaxRegression"]
