"""Forward and backward propagation written out by the chain rule: an MLP's (course III C and
III D) and an RNN's through time (V B).

Checked against autograd in the tests and the notebooks; training uses autograd.
"""

from __future__ import annotations

import torch
from torch import Tensor

# Each activation with its derivative written in terms of its input z and output a = f(z).
ACTIVATIONS = {
    "relu": (torch.relu, lambda z, a: (z > 0).to(z.dtype)),
    "sigmoid": (torch.sigmoid, lambda z, a: a * (1 - a)),
    "tanh": (torch.tanh, lambda z, a: 1 - a**2),
}


def forward_backward(
    x: Tensor, y: Tensor, weights: list[Tensor], biases: list[Tensor], activation: str = "relu"
) -> tuple[Tensor, list[Tensor], list[Tensor]]:
    """Mean cross-entropy of the MLP `x -> f(x W1^T + b1) -> ... -> logits` and its gradients.

    x: (N, D) inputs, y: (N,) class indices; weights[l]: (out, in) as nn.Linear stores them.
    Returns (loss, dL/dW per layer, dL/db per layer).
    """
    f, f_prime = ACTIVATIONS[activation]
    # Forward: keep every layer's input h and pre-activation z for the backward pass.
    hs, zs = [x], []
    for layer, (w, b) in enumerate(zip(weights, biases, strict=True)):
        z = hs[-1] @ w.T + b  # (N, out)
        zs.append(z)
        if layer < len(weights) - 1:
            hs.append(f(z))
    logits = zs[-1]
    log_probs = logits - logits.logsumexp(dim=1, keepdim=True)  # stable log-softmax
    n = len(y)
    loss = -log_probs[torch.arange(n), y].mean()

    # Backward: dL/dlogits = (softmax - one_hot) / N, then the chain rule layer by layer.
    dz = log_probs.exp()
    dz[torch.arange(n), y] -= 1
    dz /= n
    grad_w, grad_b = [None] * len(weights), [None] * len(weights)
    for layer in reversed(range(len(weights))):
        grad_w[layer] = dz.T @ hs[layer]  # (out, in)
        grad_b[layer] = dz.sum(0)  # (out,)
        if layer > 0:
            dh = dz @ weights[layer]  # (N, in): back through the linear map
            dz = dh * f_prime(zs[layer - 1], hs[layer])  # back through the activation
    return loss, grad_w, grad_b


def rnn_backward_through_time(
    x: Tensor, h0: Tensor, W_xh: Tensor, W_hh: Tensor, b_h: Tensor, grad_outputs: Tensor
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Backpropagation through time for H_t = tanh(X_t W_xh + H_{t-1} W_hh + b_h) (part V).

    x: (B, T, I); h0: (B, H); grad_outputs: dL/dH_t for every step, (B, T, H).
    Returns dL/dW_xh, dL/dW_hh, dL/db_h and dL/dh0. The gradient reaching H_t is its own
    dL/dH_t plus what flows back from H_{t+1} through W_hh: the sum over time the course describes.
    """
    steps = x.shape[1]
    hs = [h0]
    for t in range(steps):
        hs.append(torch.tanh(x[:, t] @ W_xh + hs[-1] @ W_hh + b_h))
    grad_W_xh, grad_W_hh, grad_b = (
        torch.zeros_like(W_xh),
        torch.zeros_like(W_hh),
        torch.zeros_like(b_h),
    )
    carry = torch.zeros_like(h0)  # dL/dH_t arriving from later steps
    for t in reversed(range(steps)):
        dh = grad_outputs[:, t] + carry
        dz = dh * (1 - hs[t + 1] ** 2)  # through tanh
        grad_W_xh += x[:, t].T @ dz
        grad_W_hh += hs[t].T @ dz
        grad_b += dz.sum(0)
        carry = dz @ W_hh.T
    return grad_W_xh, grad_W_hh, grad_b, carry
