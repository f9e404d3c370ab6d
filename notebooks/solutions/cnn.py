"""Solutions to the exercises of notebooks/03_cnn.ipynb (sections IV A-E)."""

import math

import torch
import torch.nn.functional as F

from dl101.models.cnn import conv_output_size, resolve_padding


def my_cross_correlation(X, K):
    """IV A.1: Y[i, j] = sum_ab X[i + a, j + b] K[a, b], every window that fits."""
    (h, w), (kh, kw) = X.shape, K.shape
    Y = torch.zeros(h - kh + 1, w - kw + 1, dtype=X.dtype)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i : i + kh, j : j + kw] * K).sum()
    return Y


def my_output_size(n, kernel_size, padding, stride):
    """IV B.1: floor((n + 2p - k) / s) + 1."""
    return (n + 2 * padding - kernel_size) // stride + 1


def my_max_pool(X, k):
    """IV C.1: the largest value of each k x k window, by reshaping."""
    c, h, w = X.shape
    return X.view(c, h // k, k, w // k, k).amax(dim=(2, 4))


def my_avg_pool(X, k):
    """IV C.2: the mean of each k x k window, by reshaping."""
    c, h, w = X.shape
    return X.view(c, h // k, k, w // k, k).mean(dim=(2, 4))


def my_head_in_features(input_shape, conv_blocks):
    """IV D.1: channels x height x width after every convolution and pooling."""
    channels, height, width = input_shape
    for block in conv_blocks:
        k, s = block["kernel_size"], block.get("stride", 1)
        p = resolve_padding(block.get("padding", 0), k)
        channels = block["out_channels"]
        height, width = (conv_output_size(n, k, p, s) for n in (height, width))
        if pool := block.get("pool"):
            stride = pool.get("stride") or pool["kernel_size"]
            height, width = (conv_output_size(n, pool["kernel_size"], 0, stride)
                             for n in (height, width))  # fmt: skip
    return math.prod((channels, height, width))


def my_lenet_forward(x, params):
    """IV E.1: conv 5x5 pad 2, ReLU, max pool 2; conv 5x5, ReLU, max pool 2; 400-120-84-10."""
    (w1, b1), (w2, b2), (w3, b3), (w4, b4), (w5, b5) = params
    h = F.max_pool2d(F.relu(F.conv2d(x, w1, b1, padding=2)), 2)  # (B, 6, 14, 14)
    h = F.max_pool2d(F.relu(F.conv2d(h, w2, b2)), 2)  # (B, 16, 5, 5)
    h = F.relu(F.linear(h.flatten(1), w3, b3))
    h = F.relu(F.linear(h, w4, b4))
    return F.linear(h, w5, b5)
