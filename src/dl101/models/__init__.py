from dl101.models.base import Classifier, Model
from dl101.models.cnn import CNN
from dl101.models.linear_regression import LinearRegression
from dl101.models.mlp import MLP
from dl101.models.rnn import RNNClassifier, RNNLanguageModel
from dl101.models.softmax_regression import SoftmaxRegression

__all__ = [
    "CNN",
    "MLP",
    "Classifier",
    "LinearRegression",
    "Model",
    "RNNClassifier",
    "RNNLanguageModel",
    "SoftmaxRegression",
]
