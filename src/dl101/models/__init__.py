from dl101.models.base import Classifier, Model
from dl101.models.linear_regression import LinearRegression
from dl101.models.softmax_regression import SoftmaxRegression

__all__ = ["Classifier", "LinearRegression", "Model", "SoftmaxRegression"]
