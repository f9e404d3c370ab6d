"""The notebooks' exercises (dl101.check): every solution in notebooks/solutions passes its check;
each typical wrong answer, written out below, gets its own diagnosis; an exercise not written yet
is told so; and every exercise cell of the notebooks calls a check that exists, with a solution."""

from __future__ import annotations

import importlib.util
import math
import re
from pathlib import Path

import nbformat
import pytest
import torch
import torch.nn.functional as F

from dl101 import PROJECT_ROOT, check
from dl101.models.cnn import conv_output_size, resolve_padding
from dl101.results.runs import Run

NOTEBOOKS = sorted((PROJECT_ROOT / "notebooks").glob("*.ipynb"))
CHECKS = {c.__name__: c for checks in check.EXERCISES.values() for c in checks}
# A fake `rnn` experiment whose first validation (after epoch 1) scored 0.92.
RNN_RUNS = [Run(Path("rnn"), {}, [], {"val/acc": [(430, 0.92), (860, 0.95)]})]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """The checks' tensors are small: one thread is faster, above all on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def load(path: Path):
    spec = importlib.util.spec_from_file_location(f"solutions.{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SOLUTIONS = [load(p) for p in sorted((PROJECT_ROOT / "notebooks" / "solutions").glob("*.py"))]


def solution(name: str):
    found = [getattr(m, f"my_{name}") for m in SOLUTIONS if hasattr(m, f"my_{name}")]
    assert len(found) == 1, f"my_{name}: {len(found)} solutions"
    return found[0]


def run_check(name: str, answer):
    args = (RNN_RUNS,) if name == "epoch_one_accuracy" else ()
    return CHECKS[name](answer, *args)


@pytest.mark.parametrize("name", CHECKS)
def test_the_solution_passes_its_check(name, capsys):
    result = run_check(name, solution(name))
    assert result.passed, result.message
    assert capsys.readouterr().out.startswith("✓")


@pytest.mark.parametrize("name", CHECKS)
def test_an_exercise_not_written_yet_is_told_so(name, capsys):
    def todo(*args):
        raise NotImplementedError  # your code here

    result = run_check(name, todo)
    assert not result and "not written yet. The check will compare" in result.message
    assert capsys.readouterr().out.startswith("✗")


# Typical wrong answers, as a student writes them, and (part of) the diagnosis each must get.


def permutation(n, seed):
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed))


def polynomial(x, powers):
    return torch.stack([x**p for p in powers], dim=1)


def train_then_decay(w, grad, lr, weight_decay):
    return (w - lr * grad) * (1 - lr * weight_decay)


def dropout_unscaled(h, p, training):
    return h * (torch.rand_like(h) >= p) if training else h


def dropout_keeps_p(h, p, training):
    return h * (torch.rand_like(h) < p) / (1 - p) if training else h


def dropout_in_eval_too(h, p, training):
    return h * (torch.rand_like(h) >= p) / (1 - p)


def dropout_same_mask(h, p, training):
    mask = torch.rand(h.shape, generator=torch.Generator().manual_seed(0)) >= p
    return h * mask / (1 - p) if training else h


def mlp_forward(X, weights, biases, act=torch.relu, last=lambda h: h, transpose=True):
    h = X
    for i, (w, b) in enumerate(zip(weights, biases, strict=True)):
        h = h @ (w.T if transpose else w) + b
        h = act(h) if i < len(weights) - 1 else last(h)
    return h


def flattened(input_shape, blocks, channels=True, pool=True, pad=True):
    c, h, w = input_shape
    for block in blocks:
        k, s = block["kernel_size"], block.get("stride", 1)
        p = resolve_padding(block.get("padding", 0), k) if pad else 0
        c, h, w = block["out_channels"], *(conv_output_size(n, k, p, s) for n in (h, w))
        if pool and block.get("pool"):
            k = block["pool"]["kernel_size"]
            h, w = (conv_output_size(n, k, 0, block["pool"].get("stride") or k) for n in (h, w))
    return (c if channels else 1) * h * w


def lenet(x, params, pool=F.max_pool2d, padding=2, act=F.relu, last=lambda h: h):
    (w1, b1), (w2, b2), (w3, b3), (w4, b4), (w5, b5) = params
    h = pool(act(F.conv2d(x, w1, b1, padding=padding)), 2)
    h = pool(act(F.conv2d(h, w2, b2)), 2).flatten(1)
    return last(F.linear(act(F.linear(act(F.linear(h, w3, b3)), w4, b4)), w5, b5))


def bptt(x, h0, W_xh, W_hh, b_h, grad_outputs, steps=None, carry=True, tanh_prime=True,
         transpose=True):  # fmt: skip
    hs = [h0]
    for t in range(x.shape[1]):
        hs.append(torch.tanh(x[:, t] @ W_xh + hs[-1] @ W_hh + b_h))
    grads, back = [torch.zeros_like(W_xh), torch.zeros_like(W_hh), torch.zeros_like(b_h)], 0
    for t in steps or reversed(range(x.shape[1])):
        dz = grad_outputs[:, t] + (back if carry else 0)
        dz = dz * (1 - hs[t + 1] ** 2) if tanh_prime else dz
        grads = [grads[0] + x[:, t].T @ dz, grads[1] + hs[t].T @ dz, grads[2] + dz.sum(0)]
        back = dz @ (W_hh.T if transpose else W_hh)
    return tuple(grads)


def log_p(logits, targets):
    return logits.log_softmax(-1).gather(-1, targets.unsqueeze(-1))


def rnn_read(images, W_xh, W_hh, b_h, columns=False):
    x = images.squeeze(1).transpose(1, 2) if columns else images.squeeze(1)
    h, states = torch.zeros(len(x), len(b_h)), []
    for t in range(x.shape[1]):
        h = torch.tanh(x[:, t] @ W_xh + h @ W_hh + b_h)
        states.append(h)
    return states


WRONG = [
    ("split", lambda n, v, s: (permutation(n, s)[v - 100 :], permutation(n, s)[:v]),
     "train and validation share 100 images"),
    ("split", lambda n, v, s: (permutation(n, s)[v + 10 :], permutation(n, s)[:v]),
     "10 of the 60,000 images are in neither part"),
    ("split", lambda n, v, s: (permutation(n, s)[:v], permutation(n, s)[v:]), "swapped"),
    ("split", lambda n, v, s: (torch.arange(v, n), torch.arange(v)), "not random"),
    ("split", lambda n, v, s: (torch.randperm(n)[v:], torch.randperm(n)[:v]), "share"),
    ("split", lambda n, v, s: (lambda p: (p[v:], p[:v]))(torch.randperm(n)),
     "differs between two calls with the same seed"),
    ("split", lambda n, v, s: (permutation(n, 0)[v:], permutation(n, 0)[:v]),
     "the seed is not used"),
    ("split", lambda n, v, s: (permutation(n, s)[:-v], permutation(n, s)[-v:]),
     "a valid random split, but not dl101's"),
    ("squared_error", lambda y_hat, y: ((y_hat - y) ** 2).sum(), "off by a factor n"),
    ("squared_error", lambda y_hat, y: (y_hat - y) ** 2, "one squared error per row"),
    ("squared_error", lambda y_hat, y: ((y_hat - y) ** 2).mean() ** 0.5, "root mean squared"),
    ("squared_error", lambda y_hat, y: (y_hat - y).abs().mean(), "mean absolute error"),
    ("closed_form_fit", lambda x, y: (torch.linalg.pinv(x) @ y, torch.tensor(0.0)),
     "intercept missing"),
    ("closed_form_fit", lambda x, y: check.linear.closed_form_fit(x, y)[::-1], "returns (b, w)"),
    ("gradient_step",
     lambda w, b, x, y, lr: (w + lr * 2 / len(y) * x.T @ (x @ w + b - y),
                             b + lr * 2 / len(y) * (x @ w + b - y).sum()), "moves uphill"),
    ("gradient_step",
     lambda w, b, x, y, lr: (w - lr / len(y) * x.T @ (x @ w + b - y),
                             b - lr / len(y) * (x @ w + b - y).sum()), "half the step"),
    ("gradient_step",
     lambda w, b, x, y, lr: (w - lr * 2 * x.T @ (x @ w + b - y),
                             b - lr * 2 * (x @ w + b - y).sum()), "n times too large"),
    ("gradient_step", lambda w, b, x, y, lr: (w - lr * 2 / len(y) * x.T @ (x @ w + b - y), b),
     "b did not move"),
    ("softmax", lambda o: o.exp() / o.exp().sum(dim=1, keepdim=True),
     "overflows on logits of 1000"),
    ("softmax", lambda o: torch.softmax(o, dim=0), "columns, not rows, sum to 1"),
    ("softmax", lambda o: torch.exp(o - o.max()) / torch.exp(o - o.max()).sum(),
     "the whole batch sums to 1"),
    ("softmax", lambda o: torch.exp(o - o.max()) / torch.exp(o - o.max()).sum(dim=1),
     "keepdim=True"),
    ("cross_entropy", lambda o, y: F.cross_entropy(o, y, reduction="sum"),
     "off by a factor B"),
    ("cross_entropy", lambda o, y: -o.log_softmax(1)[:, y].mean(), "(B, B) block"),
    ("cross_entropy", lambda o, y: -torch.softmax(o, 1)[torch.arange(len(y)), y].log().mean(),
     "log(softmax) underflows"),
    ("cross_entropy", lambda o, y: o.log_softmax(1)[torch.arange(len(y)), y].mean(),
     "negative: the loss is minus"),
    ("cross_entropy", lambda o, y: -(F.one_hot(y, o.shape[1]) * o.log_softmax(1)).mean(),
     "the B x C entries"),
    ("parameters", lambda shape, c: math.prod(shape) * c, "short by num_classes"),
    ("parameters", lambda shape, c: math.prod(shape) + c, "the weights are a matrix"),
    ("logistic_regression", lambda x, W, b: x.flatten(1) @ W.T, "the bias b is missing"),
    ("logistic_regression", lambda x, W, b: x.flatten(1) @ W + b, "multiply by W.T"),
    ("logistic_regression", lambda x, W, b: (x.flatten(1) @ W.T + b).softmax(1),
     "returns probabilities"),
    ("polynomial_features", lambda x, d: polynomial(x, range(d + 1)), "one column too many"),
    ("polynomial_features", lambda x, d: polynomial(x, range(d)), "powers 0 .. degree-1"),
    ("polynomial_features", lambda x, d: polynomial(x, range(1, d + 1)).T,
     "one column per point"),
    ("best_degree", lambda: 11, "interpolates the 12 training points"),
    ("best_degree", lambda: 1, "a line through a wave underfits"),
    ("best_degree", lambda: 9, "fits the noise"),
    ("best_degree", lambda: 7.5, "a whole number"),
    ("sgd_weight_decay", lambda w, g, lr, wd: w - lr * (g + 2 * wd * w), "twice the decay"),
    ("sgd_weight_decay", train_then_decay, "applied to the step's result"),
    ("sgd_weight_decay", lambda w, g, lr, wd: w - lr * g, "no decay"),
    ("sgd_weight_decay", lambda w, g, lr, wd: w - lr * g - wd * w,
     "not scaled by the learning rate"),
    ("dropout", dropout_unscaled, "the survivors are not scaled"),
    ("dropout", dropout_keeps_p, "p is the probability of dropping"),
    ("dropout", dropout_in_eval_too, "not the identity in eval mode"),
    ("dropout", dropout_same_mask, "the same units are dropped at every call"),
    ("mlp_forward", lambda X, W, b: mlp_forward(X, W, b, last=torch.relu),
     "logits clipped at 0"),
    ("mlp_forward", lambda X, W, b: mlp_forward(X, W, b, act=lambda h: h),
     "no ReLU between the layers"),
    ("mlp_forward", lambda X, W, b: mlp_forward(X, W, b, transpose=False), "H @ W.T + b"),
    ("mlp_forward", lambda X, W, b: mlp_forward(X, W, [0 * b_ for b_ in b]),
     "the biases are missing"),
    ("linear_backward", lambda dZ, H, W: (dZ.T @ H, dZ, dZ @ W), "db has one row per example"),
    ("linear_backward", lambda dZ, H, W: (dZ.T @ H, dZ.mean(0), dZ @ W),
     "db is averaged over the batch"),
    ("linear_backward", lambda dZ, H, W: (H.T @ dZ, dZ.sum(0), dZ @ W), "dW is transposed"),
    ("activation_backward", lambda dA, Z, act: dA, "dA returned unchanged"),
    ("activation_backward",
     lambda dA, Z, act: dA * {"relu": torch.relu, "sigmoid": torch.sigmoid,
                              "tanh": torch.tanh}[act](Z), "multiplied by f(Z)"),
    ("activation_backward",
     lambda dA, Z, act: dA * ((Z > 0).double() if act == "relu" else torch.sigmoid(Z) *
                              (1 - torch.sigmoid(Z)) if act == "sigmoid" else 1 - Z**2),
     "1 - tanh(Z)^2, not 1 - Z^2"),
    ("init", lambda n_in, n_out, act: torch.randn(n_out, n_in) / n_in**0.5,
     "ReLU's factor 2 is missing"),
    ("init", lambda n_in, n_out, act: torch.randn(n_out, n_in) * (2 / n_out) ** 0.5
     if act == "relu" else torch.randn(n_out, n_in) / n_in**0.5, "scaled by n_out"),
    ("init", lambda n_in, n_out, act: torch.randn(n_in, n_out) * (2 / n_in) ** 0.5,
     "nn.Linear stores weights (out, in)"),
    ("init", lambda n_in, n_out, act: 0.01 * torch.randn(n_out, n_in),
     "std off by a factor"),
    ("accuracy", lambda o, y: (o.argmax(1) == y).sum(), "a count, not a fraction"),
    ("accuracy", lambda o, y: 100 * (o.argmax(1) == y).float().mean(), "a percentage"),
    ("accuracy", lambda o, y: (o.argmax(0) == y).float().mean(), "logits.argmax(dim=1)"),
    ("cross_correlation",
     lambda X, K: F.conv2d(X[None, None], K.flip(0, 1)[None, None])[0, 0],
     "a true convolution"),
    ("cross_correlation", lambda X, K: F.conv2d(X[None, None], K[None, None])[0, 0, :-1, :-1],
     "one row and one column short"),
    ("cross_correlation", lambda X, K: F.conv2d(X[None, None], K.T[None, None])[0, 0],
     "the kernel is transposed"),
    ("output_size", lambda n, k, p, s: (n + 2 * p - k) / s + 1, "not a whole number"),
    ("output_size", lambda n, k, p, s: (n + p - k) // s + 1, "the padding counted once"),
    ("output_size", lambda n, k, p, s: (n + 2 * p - k) // s, "one short"),
    ("output_size", lambda n, k, p, s: math.ceil((n + 2 * p - k) / s) + 1, "rounded up"),
    ("output_size", lambda n, k, p, s: n + 2 * p - k + 1, "the stride is ignored"),
    ("max_pool", lambda X, k: F.max_pool2d(X[None], k, stride=1)[0], "the windows overlap"),
    ("max_pool", lambda X, k: X.view(X.shape[0], X.shape[1] // k, X.shape[2] // k, k, k)
     .amax((3, 4)), "not k x k squares"),
    ("max_pool", lambda X, k: X.view(X.shape[0], X.shape[1] // k, k, X.shape[2] // k, k)
     .amax((1, 3)), "the wrong axes"),
    ("avg_pool", lambda X, k: X.view(X.shape[0], X.shape[1] // k, k, X.shape[2] // k, k)
     .sum((2, 4)), "summed each window"),
    ("avg_pool", lambda X, k: F.avg_pool2d(X[None], k, stride=1)[0], "the windows overlap"),
    ("head_in_features", lambda s, b: flattened(s, b, channels=False), "the channels are missing"),
    ("head_in_features", lambda s, b: flattened(s, b, pool=False), "pooling layers are left out"),
    ("head_in_features", lambda s, b: flattened(s, b, pad=False), "the padding is ignored"),
    ("lenet_forward", lambda x, p: lenet(x, p, last=F.relu), "logits clipped at 0"),
    ("lenet_forward", lambda x, p: lenet(x, p, pool=F.avg_pool2d), "average pooling"),
    ("lenet_forward", lambda x, p: lenet(x, p, padding=0), "pads by 2"),
    ("rnn_parameters", lambda i, h, t: t * (i * h + h * h + h), "shared across time"),
    ("rnn_parameters", lambda i, h, t: i * h + h * h, "the bias b_h is missing"),
    ("rnn_parameters", lambda i, h, t: i * h + h * h + 2 * h, "two biases"),
    ("rnn_step", lambda X, H, Wx, Wh, b: torch.tanh(X @ Wx + H @ Wh.T + b),
     "W_hh is transposed"),
    ("rnn_step", lambda X, H, Wx, Wh, b: torch.tanh(X @ Wx + H @ Wh), "the bias b_h is missing"),
    ("rnn_step", lambda X, H, Wx, Wh, b: X @ Wx + H @ Wh + b, "no tanh"),
    ("rnn_step", lambda X, H, Wx, Wh, b: torch.tanh(Wx @ X.T + H @ Wh + b),
     "multiplies from the right"),
    ("bptt", lambda x, *rest: bptt(x, *rest, steps=[x.shape[1] - 1]),
     "the gradient of only the last step"),
    ("bptt", lambda *args: bptt(*args, carry=False), "nothing flows back through time"),
    ("bptt", lambda *args: bptt(*args, tanh_prime=False), "tanh's derivative is missing"),
    ("perplexity", lambda o, y: torch.exp(-log_p(o, y).sum()), "exp of the sum"),
    ("perplexity", lambda o, y: 2 ** (-log_p(o, y).mean()), "2 to the power"),
    ("perplexity", lambda o, y: 1 / log_p(o, y).exp().mean(), "1 over the mean probability"),
    ("perplexity", lambda o, y: torch.exp(-o.gather(-1, y.unsqueeze(-1)).mean()),
     "logits used as log-probabilities"),
    ("perplexity", lambda o, y: torch.exp(-o.softmax(-1).gather(-1, y[..., None]).log().mean()),
     "inf on logits of 1000"),
    ("rnn_classifier", lambda x, Wx, Wh, b, W, c: rnn_read(x, Wx, Wh, b, columns=True)[-1] @ W.T
     + c, "column by column"),
    ("rnn_classifier", lambda x, Wx, Wh, b, W, c: torch.stack(rnn_read(x, Wx, Wh, b)).mean(0)
     @ W.T + c, "the mean of the states"),
    ("rnn_classifier", lambda x, Wx, Wh, b, W, c: rnn_read(x, Wx, Wh, b)[-1] @ W.T,
     "the dense layer's bias is missing"),
    ("epoch_one_accuracy", lambda: 0.1, "about chance"),
    ("epoch_one_accuracy", lambda: 92, "a percentage? answer a fraction"),
    ("epoch_one_accuracy", lambda: 0.5, "too pessimistic"),
    ("epoch_one_accuracy", lambda: 0.995, "too optimistic"),
    # Less common slips, each with its own diagnosis too.
    ("squared_error", lambda y_hat, y: (y_hat - y).mean() ** 2, "the square of the mean"),
    ("squared_error", lambda y_hat, y: ((y_hat - y) ** 2).mean() / 2, "off by a factor 1/2"),
    ("softmax", lambda o: o / o.sum(dim=1, keepdim=True), "no exp"),
    ("cross_entropy", lambda o, y: -o[torch.arange(len(y)), y].mean(),
     "the logit is not a log-probability"),
    ("cross_entropy",
     lambda o, y: -(o.exp() / o.exp().sum(1, keepdim=True))[torch.arange(len(y)), y].log().mean(),
     "exp overflows"),
    ("parameters", lambda shape, c: math.prod(shape) * c + 1, "not one in all"),
    ("parameters", lambda shape, c: shape[-1] * shape[-2] * c + c, "the channels are missing"),
    ("best_degree", lambda: 2, "still misses part of the wave"),
    ("sgd_weight_decay", lambda w, g, lr, wd: w - lr * (g - wd * w), "the weights grow"),
    ("sgd_weight_decay", lambda w, g, lr, wd: w - lr * (g + wd), "not lambda w"),
    ("dropout", lambda h, p, training: h * (torch.rand_like(h) >= p) * (1 - p) if training else h,
     "multiplied by 1 - p instead of dividing"),
    ("dropout", lambda h, p, training: h * (torch.rand_like(h) >= p) / p if training else h,
     "divided by p"),
    ("dropout", lambda h, p, training: h * (torch.rand_like(h) >= 0.3) / (1 - p) if training else h,
     "of the units, nn.Dropout"),
    ("dropout", lambda h, p, t: h * (torch.rand_like(h) >= p) / (1 - p) ** 2 if t else h,
     "survivors scaled by"),
    ("mlp_forward", lambda X, W, b: mlp_forward(X, W, b, act=torch.sigmoid), "sigmoid where"),
    ("mlp_forward", lambda X, W, b: mlp_forward(X, W, b, last=lambda h: h.softmax(1)),
     "returns probabilities"),
    ("linear_backward", lambda dZ, H, W: (dZ.T @ H, dZ.sum(0), dZ @ W.T),
     "dH_prev goes back through W, not W^T"),
    ("activation_backward",
     lambda dA, Z, act: dA * Z * (1 - Z) if act == "sigmoid" else dA * (
         (Z > 0).double() if act == "relu" else 1 - torch.tanh(Z) ** 2), "not Z(1 - Z)"),
    ("init", lambda n_in, n_out, act: torch.rand(n_out, n_in) * (6 / n_in) ** 0.5,
     "not centred at 0"),
    ("init", lambda n_in, n_out, act: torch.randn(n_out, n_in) * (2 / n_in) ** 0.5,
     "ReLU's factor 2 on a tanh layer"),
    ("accuracy", lambda o, y: (o.argmin(1) == y).float().mean(), "argmin"),
    ("output_size", lambda n, k, p, s: (n + 2 * p - k + 1) // s, "the + 1 is inside"),
    ("lenet_forward", lambda x, p: lenet(x, p, act=lambda h: h), "no ReLU"),
    ("lenet_forward", lambda x, p: lenet(x, p, act=torch.tanh), "tanh, as the original"),
    ("rnn_parameters", lambda i, h, t: i * h + h, "W_hh are missing"),
    ("rnn_step", lambda X, H, Wx, Wh, b: torch.relu(X @ Wx + H @ Wh + b), "ReLU where"),
    ("rnn_step", lambda X, H, Wx, Wh, b: torch.sigmoid(X @ Wx + H @ Wh + b), "sigmoid where"),
    ("bptt", lambda *args: bptt(*args, transpose=False), "not W_hh^T"),
    ("bptt", lambda x, h0, W_xh, W_hh, b_h, g: (0 * W_xh, 0 * W_hh, 0 * b_h), "dW_xh is all zeros"),
    ("perplexity", lambda o, y: torch.exp(log_p(o, y).mean()), "the minus sign is missing"),
    ("perplexity",
     lambda o, y: torch.exp(-(o.exp() / o.exp().sum(-1, keepdim=True)).gather(-1, y[..., None])
                            .log().mean()), "NaN on logits of 1000"),
    ("rnn_classifier", lambda x, Wx, Wh, b, W, c: rnn_read(x, Wx, Wh, b)[0] @ W.T + c,
     "the first state"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "wrong", "diagnosis"), WRONG, ids=[f"{n}: {d}" for n, _, d in WRONG]
)
def test_a_typical_wrong_answer_gets_its_diagnosis(name, wrong, diagnosis, capsys):
    result = run_check(name, wrong)
    assert not result, f"{name} passed a wrong answer ({diagnosis})"
    assert diagnosis in result.message, result.message
    assert capsys.readouterr().out.startswith("✗")


def test_every_check_has_a_typical_wrong_answer_here():
    assert {name for name, _, _ in WRONG} == set(CHECKS)


def test_a_prediction_is_compared_with_the_run_only_once_there_is_one(capsys):
    result = check.epoch_one_accuracy(lambda: 0.93, None)
    assert not result and "run the experiment first" in result.message


# The notebooks' exercise cells.

TASK = re.compile(r"^\*\*Exercise \(([IV]+ [A-F])\.(\d+)\)\*\*")
CALL = re.compile(r"^check\.(\w+)\((my_\w+)\b", re.MULTILINE)


def exercise_cells(path):
    """(section, number, function cell, check-call cell) of each exercise, in order."""
    cells = nbformat.read(path, as_version=4).cells
    found = []
    for i, cell in enumerate(cells):
        task = TASK.match(cell.source) if cell.cell_type == "markdown" else None
        if task:
            code = cells[i + 1]
            assert code.cell_type == "code" and "raise NotImplementedError" in code.source
            call = next(c for c in cells[i + 2 :] if CALL.search(c.source))
            found.append((task.group(1), int(task.group(2)), code, call))
    return found


def test_every_exercise_cell_calls_its_check_and_every_check_has_an_exercise():
    called = []
    for path in NOTEBOOKS:
        for section, number, code, call in exercise_cells(path):
            name, function = CALL.search(call.source).groups()
            assert name in CHECKS, f"{path.name}: check.{name} does not exist"
            assert function == f"my_{name}" and f"def {function}(" in code.source
            assert CHECKS[name] is check.EXERCISES[section][number - 1], (section, number, name)
            assert solution(name)  # kept apart, in notebooks/solutions
            called.append(name)
    assert sorted(called) == sorted(CHECKS), "each check called once, in its section"
    assert all(check.EXERCISES[section] for section in check.EXERCISES)
    assert len(check.EXERCISES) == 19 and len(CHECKS) >= 22


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_the_exercise_cells_run_as_committed_and_say_not_written_yet(path, capsys):
    """As a student first runs them: each function cell defines its function, each check cell
    prints "not written yet" and raises nothing."""
    namespace = {"check": check, "runs": {}}
    for _, _, code, call in exercise_cells(path):
        exec(compile(code.source, f"{path.name}: exercise", "exec"), namespace)
        exec(compile(call.source, f"{path.name}: check", "exec"), namespace)
        assert "not written yet" in capsys.readouterr().out, call.source
