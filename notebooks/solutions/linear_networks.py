"""Solutions to the exercises of notebooks/01_linear_networks.ipynb (sections I B, II A-C)."""

import math

import torch


def my_split(n, val_size, seed):
    """I B.1: train and validation indices of n images, validation = the first val_size of a
    seeded permutation (as MNISTDataModule.split_indices)."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return order[val_size:], order[:val_size]


def my_squared_error(y_hat, y):
    """II A.1: the course's table: the mean of the squared residuals."""
    return ((y_hat - y) ** 2).mean()


def my_closed_form_fit(x, y):
    """II A.2: least squares with a column of ones for the bias: (w, b)."""
    design = torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype)], dim=1)
    solution = torch.linalg.solve(design.T @ design, design.T @ y)  # the normal equations
    return solution[:-1], solution[-1]


def my_gradient_step(w, b, x, y, lr):
    """II A.3: one step of gradient descent on the mean squared error."""
    residual = x @ w + b - y  # (n,)
    grad_w = 2 / len(y) * x.T @ residual
    grad_b = 2 / len(y) * residual.sum()
    return w - lr * grad_w, b - lr * grad_b


def my_softmax(logits):
    """II B.1: each row into probabilities, stable for large logits."""
    shifted = logits - logits.max(dim=1, keepdim=True).values
    exp = shifted.exp()
    return exp / exp.sum(dim=1, keepdim=True)


def my_cross_entropy(logits, labels):
    """II B.2: the mean over the batch of -log softmax(logits)[label]."""
    log_probs = logits - logits.logsumexp(dim=1, keepdim=True)
    return -log_probs[torch.arange(len(labels)), labels].mean()


def my_parameters(input_shape, num_classes):
    """II C.1: one weight per (pixel, class) and one bias per class."""
    return math.prod(input_shape) * num_classes + num_classes


def my_logistic_regression(images, W, b):
    """II C.2: the logits W vec(x) + b of a batch of images."""
    return images.flatten(1) @ W.T + b
