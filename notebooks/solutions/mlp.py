"""Solutions to the exercises of notebooks/02_mlp.ipynb (sections III A-F)."""

import torch


def my_polynomial_features(x, degree):
    """III A.1: the columns x, x^2, ..., x^degree (closed_form_fit adds the bias)."""
    return torch.stack([x**power for power in range(1, degree + 1)], dim=1)


def my_best_degree():
    """III A.2: 7, the lowest validation error of the eleven (6 comes close; from 8 on the
    polynomial oscillates between the 12 training points)."""
    return 7


def my_sgd_weight_decay(w, grad, lr, weight_decay):
    """III B.1: w - lr (grad + lambda w), the gradient of L + (lambda/2) |w|^2."""
    return w - lr * (grad + weight_decay * w)


def my_dropout(h, p, training):
    """III B.2: zero each unit with probability p, scale the survivors by 1/(1 - p)."""
    if not training:
        return h
    mask = (torch.rand_like(h) >= p).to(h.dtype)
    return mask * h / (1 - p)


def my_mlp_forward(X, weights, biases):
    """III C.1: H = relu(H W^T + b) through the hidden layers, the logits from the last one."""
    h = X
    for w, b in zip(weights[:-1], biases[:-1], strict=True):
        h = torch.relu(h @ w.T + b)
    return h @ weights[-1].T + biases[-1]


def my_linear_backward(dZ, H_prev, W):
    """III D.1: the gradients of Z = H_prev W^T + b."""
    return dZ.T @ H_prev, dZ.sum(dim=0), dZ @ W


def my_activation_backward(dA, Z, activation):
    """III D.2: dZ = dA * f'(Z)."""
    if activation == "relu":
        return dA * (Z > 0).to(dA.dtype)
    if activation == "sigmoid":
        s = torch.sigmoid(Z)
        return dA * s * (1 - s)
    if activation == "tanh":
        return dA * (1 - torch.tanh(Z) ** 2)
    raise ValueError(activation)


def my_init(n_in, n_out, activation):
    """III E.1: Kaiming normal: std sqrt(2 / n_in) for ReLU, sqrt(1 / n_in) otherwise."""
    gain = 2.0 if activation == "relu" else 1.0
    return torch.randn(n_out, n_in) * (gain / n_in) ** 0.5


def my_accuracy(logits, labels):
    """III F.1: the fraction of rows whose largest logit is the label."""
    return (logits.argmax(dim=1) == labels).float().mean()
