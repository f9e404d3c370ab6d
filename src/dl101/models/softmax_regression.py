"""The course's `LogisticRegression` on MNIST: flatten 784 pixels -> linear -> 10 logits."""

from __future__ import annotations

import math

from torch import Tensor, nn

from dl101.models.base import Classifier


class SoftmaxRegression(Classifier):
    def __init__(self, input_shape: list[int], num_classes: int, **classifier_args):
        super().__init__(num_classes=num_classes, **classifier_args)
        self.linear = nn.Linear(math.prod(input_shape), num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(x.flatten(1))  # (B, 784) -> (B, 10); softmax lives in the loss
