"""Checks for the notebooks' exercises: `from dl101 import check`, then `check.softmax(my_softmax)`.

Each check calls the student's function on random, non-zero inputs of several shapes, compares
the answers with the package's own implementation (or PyTorch's, where the package uses it), and
prints one line: a confirmation, or what is wrong with a hint. A typical wrong answer is
recognised by a `Mistake`: the same computation with that one slip, whose diagnosis is printed
when the student's answers equal it on every input. A check returns a `Result` (true when passed)
and never raises on a wrong answer; an exercise still to write (`raise NotImplementedError`)
gets "not written yet" and what the check will compare.

Every check is named after its exercise; `EXERCISES` lists them by course section.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import torch
import torch.nn.functional as F
from omegaconf import OmegaConf
from torch import Tensor, nn

from dl101 import CONFIG_DIR
from dl101.data.mnist import MNISTDataModule
from dl101.models import backprop
from dl101.models import cnn as cnn_models
from dl101.models import linear_regression as linear
from dl101.models import rnn as rnn_models
from dl101.models.mlp import MLP, init_linear
from dl101.models.softmax_regression import SoftmaxRegression

# --------------------------------------------------------------------------------------------
# What a check reports, and the comparison every check shares
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    """A check's verdict: true when the answer passed; `message` is the line it printed."""

    exercise: str
    passed: bool
    message: str

    def __bool__(self) -> bool:
        return self.passed

    def _ipython_display_(self) -> None:
        """Nothing more in a notebook: the check has printed its line already."""


@dataclass(frozen=True)
class Case:
    """The arguments a check passes to the student's function, and how a diagnosis names them."""

    description: str
    args: tuple
    expected: object = None  # the package's answer, when the case computed it; else the reference's


@dataclass(frozen=True)
class Mistake:
    """A typical wrong answer written out (same arguments as the exercise), and what to say when
    the student's answers equal it on every input."""

    wrong: Callable
    diagnosis: str


def report(exercise: str, passed: bool, message: str) -> Result:
    print(f"{'✓' if passed else '✗'} {exercise}: {message}")
    return Result(exercise, passed, message)


def not_written(exercise: str, compares: str) -> Result:
    return report(exercise, False, f"not written yet. The check will compare {compares}")


def raised(exercise: str, error: Exception, case: Case, hint: str = "") -> Result:
    first_line = (str(error).strip().splitlines() or [""])[0][:160]
    message = f"raised {type(error).__name__} on {case.description}: {first_line}"
    return report(exercise, False, message + (f". Hint: {hint}" if hint else ""))


def call(function: Callable, case: Case):
    """The function on copies of the case's arguments: an answer that changes its inputs in
    place cannot spoil the reference's, nor a case kept for the next call."""
    return function(*copy(case.args))


def copy(value):
    if isinstance(value, Tensor):
        return value.clone()
    if isinstance(value, list | tuple):
        return type(value)(copy(v) for v in value)
    return value


def as_tuple(answer) -> tuple:
    return tuple(answer) if isinstance(answer, tuple | list) else (answer,)


def difference(answer, expected, names: Sequence[str], tol: float) -> str | None:
    """None when the answer equals the expected value (each output within `tol`, relative and
    absolute); otherwise what differs, in words: a shape, NaN or inf, a sign, a constant factor,
    or by how much."""
    answers, expecteds = as_tuple(answer), as_tuple(expected)
    if len(answers) != len(expecteds):
        return f"returns {len(answers)} value(s), expected {len(expecteds)} ({', '.join(names)})"
    for name, got, want in zip(names, answers, expecteds, strict=True):
        want = torch.as_tensor(want).double()
        try:
            got = torch.as_tensor(got.detach() if isinstance(got, Tensor) else got).double()
        except (TypeError, ValueError, RuntimeError):
            return (
                f"{name} is a {type(got).__name__}, expected a tensor of shape {tuple(want.shape)}"
            )
        if got.shape != want.shape:
            return f"{name} has shape {tuple(got.shape)}, expected {tuple(want.shape)}"
        if torch.allclose(got, want, rtol=tol, atol=tol, equal_nan=True):
            continue
        if not torch.isfinite(got).all() and torch.isfinite(want).all():
            return f"{name} holds NaN or inf"
        if torch.allclose(got, -want, rtol=tol, atol=tol):
            return f"{name} has the wrong sign"
        if not got.any():
            return f"{name} is all zeros"
        nonzero = want.abs() > 1e-8
        if nonzero.any():
            ratio = got[nonzero] / want[nonzero]
            factor = ratio.mean()
            if ratio.numel() and torch.allclose(ratio, factor.expand_as(ratio), rtol=1e-4):
                return f"{name} is off by a factor {factor.item():.4g}"
        return f"{name} differs from the expected value by up to {(got - want).abs().max():.3g}"
    return None


def compare(
    exercise: str,
    student: Callable,
    reference: Callable | None,
    cases: Sequence[Case],
    *,
    compares: str,
    success: str,
    mistakes: Sequence[Mistake] = (),
    names: Sequence[str] = ("the result",),
    on_error: str = "",
    tol: float = 1e-5,
) -> Result:
    """The student's function against the reference on every case: the first case that differs
    is named, with the diagnosis of a mistake the answers equal on every case answered, else
    what differs (`difference`). A case that holds its expected answer needs no reference."""
    expected = [call(reference, c) if c.expected is None else c.expected for c in cases]
    answers = []
    for case in cases:
        try:
            answers.append(call(student, case))
        except NotImplementedError:
            return not_written(exercise, compares)
        except Exception as error:  # the student's bug is reported, never raised
            if not any(
                difference(a, e, names, tol) for a, e in zip(answers, expected, strict=False)
            ):
                return raised(exercise, error, case, on_error)
            break  # an earlier case already went wrong: diagnose that one
    for answer, case, want in zip(answers, cases, expected, strict=False):
        wrong = difference(answer, want, names, tol)
        if wrong is None:
            continue
        for mistake in mistakes:
            if matches(mistake, answers, cases, names, tol):
                return report(exercise, False, mistake.diagnosis)
        return report(exercise, False, f"{wrong} on {case.description}")
    return report(exercise, True, success)


def matches(mistake: Mistake, answers, cases, names, tol) -> bool:
    """Whether the answers equal the mistake's on every case it answers (at least one)."""
    compared = 0
    for answer, case in zip(answers, cases, strict=False):
        try:
            wrong = call(mistake.wrong, case)
        except Exception:
            continue
        if difference(answer, wrong, names, tol) is not None:
            return False
        compared += 1
    return compared > 0


def random(*shape: int, seed: int, scale: float = 1.0, dtype=torch.float32) -> Tensor:
    """Seeded normal values: a check gives the same verdict every time it runs."""
    generator = torch.Generator().manual_seed(seed)
    return scale * torch.randn(*shape, generator=generator, dtype=dtype)


def labels(n: int, classes: int, seed: int) -> Tensor:
    return torch.randint(0, classes, (n,), generator=torch.Generator().manual_seed(seed))


def sgd() -> Callable:
    """The optimizer argument a model needs to be built (the checks never train)."""
    return partial(torch.optim.SGD, lr=0.01)


@functools.cache
def conv_blocks(config: str) -> list[dict]:
    """A CNN's conv blocks as a config in conf/ defines them (model/lenet, cnn_variant/...)."""
    cfg = OmegaConf.load(f"{CONFIG_DIR}/{config}.yaml")
    blocks = cfg.conv_blocks if "conv_blocks" in cfg else cfg.model.conv_blocks
    return OmegaConf.to_container(blocks)


# --------------------------------------------------------------------------------------------
# I B Data
# --------------------------------------------------------------------------------------------


def split(student: Callable) -> Result:
    """I B.1: `my_split(n, val_size, seed) -> (train_idx, val_idx)`, a seeded random split."""
    exercise = "I B.1 split"
    compares = (
        "your split of 60,000 indices with MNISTDataModule.split_indices for three seeds and "
        "validation sizes, and test that it is disjoint, complete and seeded."
    )

    def answer(n, val_size, seed):
        train, val = student(n, val_size, seed)
        return torch.as_tensor(train), torch.as_tensor(val)

    settings = [(60_000, 5_000, 12345), (60_000, 10_000, 1), (60_000, 500, 7)]
    for n, val_size, seed in settings:
        where = f"n={n:,}, val_size={val_size:,}, seed={seed}"
        try:
            train, val = answer(n, val_size, seed)
            again = answer(n, val_size, seed)
            other = answer(n, val_size, seed + 1)
        except NotImplementedError:
            return not_written(exercise, compares)
        except Exception as error:
            return raised(exercise, error, Case(where, ()), "return (train_idx, val_idx)")
        if len(val) != val_size:
            hint = " (train and validation swapped?)" if len(val) == n - val_size else ""
            return report(
                exercise,
                False,
                f"validation holds {len(val):,} indices, expected {val_size:,} ({where}){hint}",
            )
        shared = len(set(train.tolist()) & set(val.tolist()))
        if shared:
            return report(
                exercise,
                False,
                f"train and validation share {shared:,} images "
                f"({where}): take validation and train from disjoint parts of one "
                "permutation",
            )
        missing = n - len(set(train.tolist()) | set(val.tolist()))
        if missing:
            return report(
                exercise,
                False,
                f"{missing:,} of the {n:,} images are in neither part"
                f" ({where}): train gets every index validation does not",
            )
        if sorted(val.tolist()) == list(range(val_size)) or sorted(val.tolist()) == list(
            range(n - val_size, n)
        ):
            return report(
                exercise,
                False,
                f"not random: validation is the first or last "
                f"{val_size:,} images ({where}); shuffle with a seeded permutation",
            )
        if not (torch.equal(val, again[1]) and torch.equal(train, again[0])):
            return report(
                exercise,
                False,
                f"differs between two calls with the same seed "
                f"({where}): draw the permutation from "
                "torch.Generator().manual_seed(seed)",
            )
        if torch.equal(val, other[1]):
            return report(
                exercise,
                False,
                f"seeds {seed} and {seed + 1} give the same split: the seed is not used",
            )
        package = MNISTDataModule("unused", val_size=val_size, split_seed=seed).split_indices()
        if sorted(val.tolist()) != sorted(package[1].tolist()):
            return report(
                exercise,
                False,
                f"a valid random split, but not dl101's ({where}): "
                "validation is the first val_size indices of torch.randperm(n, "
                "generator=torch.Generator().manual_seed(seed)), training the rest",
            )
    return report(
        exercise,
        True,
        "disjoint, complete, seeded, and the same images as "
        "MNISTDataModule.split_indices for 3 seeds and validation sizes",
    )


# --------------------------------------------------------------------------------------------
# II A Linear regression
# --------------------------------------------------------------------------------------------


def squared_error(student: Callable) -> Result:
    """II A.1: `my_squared_error(y_hat, y)`, the course's table: the mean of squared residuals."""
    cases = [
        Case(
            "the course's price table (3 houses)",
            (torch.tensor([379.0, 288.0, 432.0]), torch.tensor([399.9, 329.9, 369.0])),
        ),
        *(
            Case(f"{n} random predictions", (random(n, seed=n), random(n, seed=n + 1)))
            for n in (10, 50)
        ),
    ]
    mistakes = [
        Mistake(
            lambda y_hat, y: ((y_hat - y) ** 2).sum(),
            "off by a factor n (the number of rows): you summed; the course's table "
            "averages the squares over the n houses",
        ),
        Mistake(
            lambda y_hat, y: (y_hat - y) ** 2,
            "one squared error per row: average them into one number",
        ),
        Mistake(
            lambda y_hat, y: ((y_hat - y) ** 2).mean().sqrt(),
            "that is the root mean squared error: drop the square root",
        ),
        Mistake(
            lambda y_hat, y: (y_hat - y).abs().mean(),
            "that is the mean absolute error: square the residuals",
        ),
        Mistake(
            lambda y_hat, y: (y_hat - y).mean() ** 2,
            "the square of the mean residual: square each residual, then average",
        ),
        Mistake(
            lambda y_hat, y: ((y_hat - y) ** 2).mean() / 2,
            "off by a factor 1/2: the course's table has no 1/2",
        ),
    ]
    return compare(
        "II A.1 squared_error",
        student,
        linear.squared_error,
        cases,
        mistakes=mistakes,
        compares="with dl101.models.linear_regression.squared_error on the course's table and "
        "random predictions.",
        success="equal to dl101's squared_error on the course's table (2,053.81) and 2 random "
        "batches",
    )


def closed_form_fit(student: Callable) -> Result:
    """II A.2: `my_closed_form_fit(x, y) -> (w, b)`, least squares by the normal equations."""
    houses = torch.tensor([[2104.0], [1600.0], [2400.0]], dtype=torch.float64)
    prices = torch.tensor([399.9, 329.9, 369.9], dtype=torch.float64)
    cases = [
        Case("the course's three houses", (houses, prices)),
        *(
            Case(
                f"{n} random points with {d} feature(s)",
                (
                    random(n, d, seed=d, dtype=torch.float64),
                    random(n, seed=d + 10, dtype=torch.float64) + 3.0,
                ),
            )
            for n, d in ((8, 1), (20, 2), (30, 5))
        ),
    ]

    def without_intercept(x, y):
        w = torch.linalg.lstsq(x, y.unsqueeze(1)).solution.squeeze(1)
        return w, torch.zeros((), dtype=x.dtype)

    def swapped(x, y):
        w, b = linear.closed_form_fit(x, y)
        return b, w

    mistakes = [
        Mistake(
            without_intercept,
            "intercept missing: append a column of ones to X so that "
            "the last coefficient is b (without it the line goes through the origin)",
        ),
        Mistake(swapped, "returns (b, w): return the weights first, then the bias"),
    ]
    return compare(
        "II A.2 closed_form_fit",
        student,
        linear.closed_form_fit,
        cases,
        mistakes=mistakes,
        names=("w", "b"),
        tol=1e-6,
        compares="(w, b) with dl101.models.linear_regression.closed_form_fit on the course's "
        "houses and on random data with 1, 2 and 5 features.",
        success="the same (w, b) as dl101's closed_form_fit on the course's houses and 3 random "
        "data sets (1, 2, 5 features)",
    )


def gradient_step(student: Callable) -> Result:
    """II A.3: `my_gradient_step(w, b, x, y, lr) -> (w, b)`: one step on the mean squared error."""

    def reference(w, b, x, y, lr):
        w, b = w.clone().requires_grad_(), b.clone().requires_grad_()
        linear.squared_error(x @ w + b, y).backward()
        return (w - lr * w.grad).detach(), (b - lr * b.grad).detach()

    def step(w, b, x, y, lr, factor=2.0, sign=1.0, mean=True, move_b=True):
        residual = x @ w + b - y
        scale = factor / len(y) if mean else factor
        grad_w, grad_b = scale * x.T @ residual, scale * residual.sum()
        return w - sign * lr * grad_w, (b - sign * lr * grad_b) if move_b else b

    cases = [
        Case(
            f"{n} points with {d} feature(s)",
            (
                random(d, seed=d),
                random((), seed=d + 1),
                random(n, d, seed=n),
                random(n, seed=n + 1),
                lr,
            ),
        )
        for n, d, lr in ((5, 1, 0.1), (12, 3, 0.05), (40, 2, 0.01))
    ]
    mistakes = [
        Mistake(
            partial(step, sign=-1.0),
            "moves uphill: the loss goes up; subtract the gradient (w - lr * grad)",
        ),
        Mistake(
            partial(step, factor=1.0),
            "half the step: the derivative of a square brings a "
            "factor 2 (grad_w = 2/n X^T (X w + b - y))",
        ),
        Mistake(
            partial(step, mean=False),
            "a step n times too large: the loss is a mean over "
            "the n rows, so its gradient has the factor 1/n",
        ),
        Mistake(
            partial(step, move_b=False),
            "b did not move: the bias has its gradient too, 2/n * sum(X w + b - y)",
        ),
    ]
    return compare(
        "II A.3 gradient_step",
        student,
        reference,
        cases,
        mistakes=mistakes,
        names=("w", "b"),
        compares="the new (w, b) with a step along autograd's gradient of dl101's squared_error, "
        "on random data with 1 to 3 features.",
        success="the same step as autograd's gradient of dl101's squared_error on 3 random data "
        "sets",
    )


# --------------------------------------------------------------------------------------------
# II B Softmax regression
# --------------------------------------------------------------------------------------------


def logit_cases(seed: int) -> list[Case]:
    """Batches of logits (rows = examples), the last two far from zero."""
    shapes = [(4, 3), (8, 10), (1, 5), (6, 6)]
    cases = [
        Case(f"a batch of {b} x {c} logits", (random(b, c, seed=seed + b, scale=3),))
        for b, c in shapes
    ]
    cases.append(Case("logits of 1000", (1000 + random(3, 4, seed=seed, scale=60),)))
    cases.append(Case("logits of -1000", (-1000 + random(3, 4, seed=seed + 1, scale=60),)))
    return cases


def softmax(student: Callable) -> Result:
    """II B.1: `my_softmax(logits)`: each row of (B, C) logits into probabilities."""
    mistakes = [
        Mistake(
            lambda o: o.exp() / o.exp().sum(dim=1, keepdim=True),
            "overflows on logits of 1000 (exp(1000) is inf): subtract each row's max "
            "before exp, which leaves the softmax unchanged",
        ),
        Mistake(
            lambda o: o.exp() / o.exp().sum(dim=0, keepdim=True),
            "columns, not rows, sum to 1: normalize over dim=1 (each row is one example)",
        ),
        Mistake(
            lambda o: torch.softmax(o, dim=0),
            "columns, not rows, sum to 1: normalize over dim=1 (each row is one example)",
        ),
        Mistake(
            lambda o: (o - o.max()).exp() / (o - o.max()).exp().sum(),
            "the whole batch sums to 1, not each row: sum over dim=1 with keepdim=True",
        ),
        Mistake(
            lambda o: o.exp() / o.exp().sum(),
            "the whole batch sums to 1, not each row: sum over dim=1 with keepdim=True",
        ),
        Mistake(
            lambda o: o / o.sum(dim=1, keepdim=True),
            "no exp: softmax divides exp(o_j) by the sum of exp(o_k)",
        ),
    ]
    return compare(
        "II B.1 softmax",
        student,
        partial(torch.softmax, dim=1),
        logit_cases(1),
        mistakes=mistakes,
        on_error="keep the summed dimension (keepdim=True) so that each row divides by its sum",
        compares="with torch.softmax(logits, dim=1), which the package's loss F.cross_entropy "
        "applies, on 4 random batches and on logits of +-1000.",
        success="equal to torch.softmax on 4 random batches, stable at logits of +-1000",
    )


def cross_entropy(student: Callable) -> Result:
    """II B.2: `my_cross_entropy(logits, labels)`: the mean of -log softmax at each label."""
    cases = []
    for i, case in enumerate(logit_cases(2)):
        (logits,) = case.args
        y = labels(len(logits), logits.shape[1], i)
        if "1000" in case.description:  # the least likely class: its probability underflows
            y = logits.argmin(dim=1)
        cases.append(Case(case.description, (logits, y)))

    def log_probs(o):
        return o.log_softmax(dim=1)

    def picked(o, y):
        return log_probs(o)[torch.arange(len(y)), y]

    mistakes = [
        Mistake(
            lambda o, y: -picked(o, y).sum(),
            "off by a factor B (the batch size): F.cross_entropy averages over the batch",
        ),
        Mistake(
            lambda o, y: picked(o, y).mean(),
            "negative: the loss is minus the log-probability of the label",
        ),
        Mistake(
            lambda o, y: -log_probs(o)[:, y].mean(),
            "indexing with [:, labels] takes a (B, B) block: take one entry per row with "
            "[torch.arange(B), labels]",
        ),
        Mistake(
            lambda o, y: -(F.one_hot(y, o.shape[1]) * log_probs(o)).mean(),
            "averaged over the B x C entries of the one-hot product: divide by B only",
        ),
        Mistake(
            lambda o, y: -torch.softmax(o, 1)[torch.arange(len(y)), y].log().mean(),
            "inf on logits of 1000: log(softmax) underflows; use log_softmax "
            "(o - logsumexp(o)) instead",
        ),
        Mistake(
            lambda o, y: (
                -(o.exp() / o.exp().sum(1, keepdim=True))[torch.arange(len(y)), y].log().mean()
            ),
            "NaN on logits of 1000: exp overflows; use log_softmax (o - logsumexp(o))",
        ),
        Mistake(
            lambda o, y: -o[torch.arange(len(y)), y].mean(),
            "the logit is not a log-probability: apply log_softmax before picking the label",
        ),
    ]
    return compare(
        "II B.2 cross_entropy",
        student,
        F.cross_entropy,
        cases,
        mistakes=mistakes,
        on_error="labels are class indices (B,): pick each row's entry with "
        "[torch.arange(B), labels]",
        compares="with F.cross_entropy (the package's classification loss) on 4 random "
        "batches and on logits of +-1000.",
        success="equal to F.cross_entropy on 4 random batches, stable at logits of +-1000",
    )


# --------------------------------------------------------------------------------------------
# II C Logistic regression on MNIST
# --------------------------------------------------------------------------------------------

SHAPES = [((1, 28, 28), 10), ((3, 32, 32), 10), ((1, 2, 2), 3)]  # images and classes


def softmax_regression(input_shape, num_classes, seed: int = 0) -> SoftmaxRegression:
    torch.manual_seed(seed)
    return SoftmaxRegression(list(input_shape), num_classes, optimizer=sgd())


def parameters(student: Callable) -> Result:
    """II C.1: `my_parameters(input_shape, num_classes)`: the weights and biases of softmax
    regression on images of that shape."""
    cases = [Case(f"images of {'x'.join(map(str, s))} and {c} classes", (s, c)) for s, c in SHAPES]

    def count(input_shape, num_classes):
        return sum(p.numel() for p in softmax_regression(input_shape, num_classes).parameters())

    mistakes = [
        Mistake(
            lambda s, c: math.prod(s) * c,
            "short by num_classes: each class has a bias too (784 x 10 + 10 = 7,850)",
        ),
        Mistake(lambda s, c: math.prod(s) * c + 1, "one bias per class, not one in all"),
        Mistake(
            lambda s, c: math.prod(s) + c,
            "the weights are a matrix: one per (pixel, class) pair, num_classes x pixels",
        ),
        Mistake(
            lambda s, c: s[-1] * s[-2] * c + c,
            "the channels are missing: an image has channels x height x width pixels",
        ),
    ]
    return compare(
        "II C.1 parameters",
        student,
        count,
        cases,
        mistakes=mistakes,
        names=("the count",),
        compares="your count with the parameters of dl101's SoftmaxRegression for 3 image shapes.",
        success="equal to dl101's SoftmaxRegression's parameter count for 3 image shapes (7,850 "
        "for MNIST)",
    )


@functools.cache
def logistic_regression_cases() -> tuple[Case, ...]:
    """Images, the weights of dl101's SoftmaxRegression and its logits (built once: models cost)."""
    cases = []
    for i, (shape, classes) in enumerate(SHAPES):
        model = softmax_regression(shape, classes, seed=i)
        images = torch.rand(5 + i, *shape, generator=torch.Generator().manual_seed(i))
        with torch.no_grad():
            args = (images, model.linear.weight.clone(), model.linear.bias.clone())
            expected = model(images)
        shown = "x".join(map(str, shape))
        cases.append(Case(f"{len(images)} images of {shown}", args, expected))
    return tuple(cases)


def logistic_regression(student: Callable) -> Result:
    """II C.2: `my_logistic_regression(images, W, b)`: the course's model's logits W vec(x) + b."""
    mistakes = [
        Mistake(lambda x, W, b: x.flatten(1) @ W.T, "the bias b is missing"),
        Mistake(
            lambda x, W, b: torch.softmax(x.flatten(1) @ W.T + b, dim=1),
            "returns probabilities: return the logits W vec(x) + b (dl101 puts the softmax "
            "in the loss)",
        ),
    ]
    return compare(
        "II C.2 logistic_regression",
        student,
        None,
        logistic_regression_cases(),
        mistakes=mistakes,
        names=("the logits",),
        on_error="flatten each image to a row (images.flatten(1)); W is (classes, pixels) as "
        "nn.Linear stores it, so multiply by W.T",
        compares="your logits with dl101's SoftmaxRegression holding W and b, on batches of "
        "MNIST-sized and other images.",
        success="equal to dl101's SoftmaxRegression forward on 3 batches of images",
    )


# --------------------------------------------------------------------------------------------
# III A Underfitting, overfitting
# --------------------------------------------------------------------------------------------


def powers(x: Tensor, degree: int) -> Tensor:
    return x[:, None] ** torch.arange(1, degree + 1, dtype=x.dtype)


def polynomial_features(student: Callable) -> Result:
    """III A.1: `my_polynomial_features(x, degree)`: the design matrix x, x^2, ..., x^degree."""
    cases = [
        Case(f"{n} points, degree {d}", (torch.linspace(-1, 1, n, dtype=torch.float64), d))
        for n, d in ((12, 1), (12, 3), (24, 7), (5, 11))
    ]
    mistakes = [
        Mistake(
            lambda x, d: x[:, None] ** torch.arange(0, d + 1, dtype=x.dtype),
            "one column too many: x^0 = 1 is the bias, which closed_form_fit adds itself; "
            "the columns are x, x^2, ..., x^degree",
        ),
        Mistake(
            lambda x, d: x[:, None] ** torch.arange(0, d, dtype=x.dtype),
            "powers 0 .. degree-1: the columns are x, x^2, ..., x^degree",
        ),
        Mistake(
            lambda x, d: powers(x, d).T,
            "one column per point: return (N, degree), one row per point",
        ),
    ]
    return compare(
        "III A.1 polynomial_features",
        student,
        powers,
        cases,
        mistakes=mistakes,
        names=("the design matrix",),
        compares="your design matrix with the live check's x[:, None] ** arange(1, degree + 1), "
        "which closed_form_fit turns into a polynomial fit.",
        success="the live check's design matrix for degrees 1, 3, 7 and 11",
    )


def polynomial_errors() -> dict[int, tuple[float, float]]:
    """Training and validation error of each degree 1..11 on the live check's 24 points."""
    g = torch.Generator().manual_seed(0)
    x = torch.linspace(-1, 1, 24, dtype=torch.float64)
    y = torch.sin(3 * x) + 0.2 * torch.randn(24, generator=g, dtype=torch.float64)
    train, val = torch.arange(0, 24, 2), torch.arange(1, 24, 2)
    errors = {}
    for degree in range(1, 12):
        features = powers(x, degree)
        w, b = linear.closed_form_fit(features[train], y[train])
        errors[degree] = tuple(
            linear.squared_error(features[i] @ w + b, y[i]).item() for i in (train, val)
        )
    return errors


def best_degree(student: Callable) -> Result:
    """III A.2 (predict): `my_best_degree()`: the degree 1..11 with the lowest validation error on
    the live check's points."""
    exercise = "III A.2 best_degree"
    try:
        guess = student()
    except NotImplementedError:
        return not_written(
            exercise,
            "your degree with the validation errors of closed_form_fit's "
            "fits of every degree from 1 to 11 on the live check's points.",
        )
    if not isinstance(guess, int) or not 1 <= guess <= 11:
        return report(exercise, False, f"{guess!r}: answer a whole number from 1 to 11")
    errors = polynomial_errors()
    best = min(errors, key=lambda d: errors[d][1])
    train, val = errors[guess]
    table = ", ".join(f"{d}: {errors[d][1]:.3f}" for d in errors)
    if val <= 1.1 * errors[best][1]:
        return report(
            exercise,
            True,
            f"degree {guess}: validation error {val:.4f}, the lowest "
            f"is degree {best}'s ({errors[best][1]:.4f}). All: {table}",
        )
    if guess == 11:
        why = (
            f"degree 11 interpolates the 12 training points (training error {train:.1e}) and "
            f"oscillates between them: validation error {val:.3f} (overfitting)"
        )
    elif guess == 1:
        why = f"a line through a wave underfits: training {train:.3f}, validation {val:.3f}"
    elif guess < best:
        why = (
            f"degree {guess} still misses part of the wave: training {train:.3f}, validation "
            f"{val:.3f}"
        )
    else:
        why = (
            f"degree {guess} fits the noise: training {train:.4f} but validation {val:.3f} "
            "(overfitting)"
        )
    return report(
        exercise,
        False,
        f"{why}; the lowest validation error is degree {best}'s "
        f"({errors[best][1]:.4f}). All: {table}",
    )


# --------------------------------------------------------------------------------------------
# III B Weight decay, dropout
# --------------------------------------------------------------------------------------------


def sgd_weight_decay(student: Callable) -> Result:
    """III B.1: `my_sgd_weight_decay(w, grad, lr, weight_decay)`: one SGD step on the loss plus
    (lambda/2) |w|^2."""

    def reference(w, grad, lr, weight_decay):
        p = nn.Parameter(w.clone())
        p.grad = grad.clone()
        torch.optim.SGD([p], lr=lr, weight_decay=weight_decay).step()
        return p.detach()

    cases = [
        Case(
            f"weights of shape {tuple(shape)}, lr {lr}, weight decay {wd}",
            (random(*shape, seed=len(shape)), random(*shape, seed=9), lr, wd),
        )
        for shape, lr, wd in (((5,), 0.1, 0.05), ((4, 3), 0.5, 0.1), ((10, 20), 0.01, 0.001))
    ]
    mistakes = [
        Mistake(
            lambda w, g, lr, wd: w - lr * (g + 2 * wd * w),
            "twice the decay: the penalty is (lambda/2)|w|^2, whose gradient is lambda w",
        ),
        Mistake(
            lambda w, g, lr, wd: (1 - lr * wd) * (w - lr * g),
            "the decay is applied to the step's result: decay the weights before the step, "
            "w - lr (grad + lambda w)",
        ),
        Mistake(
            lambda w, g, lr, wd: w - lr * (g - wd * w),
            "the weights grow: the decay term is + lambda w in the gradient",
        ),
        Mistake(
            lambda w, g, lr, wd: w - lr * g - wd * w,
            "the decay is not scaled by the learning rate: w - lr (grad + lambda w)",
        ),
        Mistake(lambda w, g, lr, wd: w - lr * g, "no decay: that is plain SGD"),
        Mistake(
            lambda w, g, lr, wd: w - lr * (g + wd),
            "decays by lambda, not lambda w: the penalty's gradient is proportional to w",
        ),
    ]
    return compare(
        "III B.1 sgd_weight_decay",
        student,
        reference,
        cases,
        mistakes=mistakes,
        names=("the new weights",),
        compares="your step with torch.optim.SGD(weight_decay=...).step(), the optimizer the "
        "weight_decay variant builds, on 3 random weight tensors.",
        success="equal to torch.optim.SGD(weight_decay=...)'s step on 3 random weight tensors",
    )


def dropout(student: Callable) -> Result:
    """III B.2: `my_dropout(h, p, training)`: inverted dropout, the identity when not training."""
    exercise = "III B.2 dropout"
    compares = (
        "its statistics with nn.Dropout's (the share of zeros, the survivors' scale, "
        "the mean) for p = 0.2, 0.4, 0.5, and test that eval mode is the identity."
    )
    for p, shape in ((0.4, (200, 500)), (0.2, (100_000,)), (0.5, (50, 40, 50))):
        h = random(*shape, seed=int(10 * p)).abs() + 0.5  # non-zero, so a zero means dropped
        where = f"p = {p}, h of shape {shape}"
        try:
            train1, train2 = student(h.clone(), p, True), student(h.clone(), p, True)
            evaluated = student(h.clone(), p, False)
        except NotImplementedError:
            return not_written(exercise, compares)
        except Exception as error:
            return raised(exercise, error, Case(where, ()))
        if tuple(train1.shape) != shape:
            return report(exercise, False, f"output shape {tuple(train1.shape)}, expected {shape}")
        if not torch.equal(evaluated, h):
            return report(
                exercise,
                False,
                "not the identity in eval mode (training=False): "
                "return h unchanged; dropout only acts during training",
            )
        library = nn.Dropout(p).train()(h)
        dropped = (train1 == 0).float().mean().item()
        kept = train1 != 0
        scale = (train1[kept] / h[kept]).mean().item()
        keep = 1 - p
        if math.isclose(scale, 1, rel_tol=1e-3):
            return report(
                exercise,
                False,
                f"the survivors are not scaled, so the mean activation "
                f"drops by a factor 1 - p = {keep:g}: divide them by 1 - p",
            )
        if math.isclose(scale, keep, rel_tol=1e-3):
            return report(
                exercise,
                False,
                "multiplied by 1 - p instead of dividing: the mean "
                f"drops by (1 - p)^2 = {keep**2:g}",
            )
        if p != 0.5 and math.isclose(scale, 1 / p, rel_tol=1e-3):
            return report(
                exercise, False, "divided by p: divide by the probability of keeping a unit, 1 - p"
            )
        if not torch.allclose(train1[kept], h[kept] / keep, rtol=1e-5):
            return report(
                exercise,
                False,
                f"survivors scaled by {scale:.4g} on average, "
                f"expected 1/(1 - p) = {1 / keep:.4g} ({where})",
            )
        if p != 0.5 and abs(dropped - keep) < 0.02:
            return report(
                exercise,
                False,
                f"drops {dropped:.0%} of the units: p is the "
                "probability of dropping one, so keep it with probability 1 - p",
            )
        expected = (library == 0).float().mean().item()
        if abs(dropped - p) > 0.02:
            return report(
                exercise,
                False,
                f"drops {dropped:.1%} of the units, nn.Dropout {expected:.1%} ({where})",
            )
        if torch.equal(train1, train2):
            return report(
                exercise,
                False,
                "the same units are dropped at every call: draw a new mask each time",
            )
    return report(
        exercise,
        True,
        "like nn.Dropout: a share p of zeros, survivors scaled by "
        "1/(1 - p) (the mean kept), a new mask each call, identity in eval mode, for "
        "p = 0.2, 0.4, 0.5",
    )


# --------------------------------------------------------------------------------------------
# III C Forward propagation, III D Backward propagation
# --------------------------------------------------------------------------------------------


def mlp(sizes: Sequence[int], seed: int) -> MLP:
    torch.manual_seed(seed)
    return MLP([sizes[0]], sizes[-1], list(sizes[1:-1]), optimizer=sgd()).double()


@functools.cache
def mlp_cases() -> tuple[Case, ...]:
    """Inputs, the weights of dl101's MLP (the course's and two others) and its logits."""
    cases = []
    for batch, sizes in ((8, (784, 50, 20, 10)), (3, (30, 16, 8, 12, 5)), (1, (6, 4, 3))):
        model = mlp(sizes, seed=batch)
        linears = [m for m in model.net if isinstance(m, nn.Linear)]
        X = random(batch, sizes[0], seed=batch, dtype=torch.float64)
        with torch.no_grad():
            weights = [m.weight.clone() for m in linears]
            biases = [m.bias.clone() for m in linears]
            expected = model(X)
        name = "the course's 784-50-20-10 MLP" if sizes[0] == 784 else "-".join(map(str, sizes))
        cases.append(Case(f"{name}, a batch of {batch}", (X, weights, biases), expected))
    return tuple(cases)


def mlp_forward(student: Callable) -> Result:
    """III C.1: `my_mlp_forward(X, weights, biases)`: ReLU between the layers, logits out."""

    def forward(X, weights, biases, act=torch.relu, last=None, bias=True):
        h = X
        for i, (w, b) in enumerate(zip(weights, biases, strict=True)):
            h = h @ w.T + (b if bias else 0)
            if i < len(weights) - 1:
                h = act(h)
        return last(h) if last else h

    mistakes = [
        Mistake(
            partial(forward, last=torch.relu),
            "logits clipped at 0: no ReLU after the last layer, the logits may be negative",
        ),
        Mistake(
            partial(forward, act=lambda h: h),
            "no ReLU between the layers: the network collapses into one linear map",
        ),
        Mistake(partial(forward, bias=False), "the biases are missing"),
        Mistake(partial(forward, act=torch.sigmoid), "sigmoid where the course's MLP uses ReLU"),
        Mistake(
            partial(forward, last=lambda h: torch.softmax(h, 1)),
            "returns probabilities: the forward pass ends with the logits O",
        ),
    ]
    return compare(
        "III C.1 mlp_forward",
        student,
        None,
        mlp_cases(),
        mistakes=mistakes,
        names=("the logits",),
        tol=1e-8,
        on_error="nn.Linear stores W as (out, in): each layer is H @ W.T + b",
        compares="your logits with dl101's MLP forward holding the same weights, on the "
        "course's 784-50-20-10 network and two others.",
        success="equal to dl101's MLP forward on the course's 784-50-20-10 network and 2 others",
    )


def linear_backward(student: Callable) -> Result:
    """III D.1: `my_linear_backward(dZ, H_prev, W) -> (dW, db, dH_prev)` for Z = H_prev W^T + b."""
    cases = [
        Case(
            f"a batch of {n}, {n_in} inputs, {n_out} outputs",
            (
                random(n, n_out, seed=n, dtype=torch.float64),
                random(n, n_in, seed=n + 1, dtype=torch.float64),
                random(n_out, n_in, seed=n + 2, dtype=torch.float64),
            ),
        )
        for n, n_in, n_out in ((10, 5, 5), (6, 4, 3), (1, 7, 2))
    ]

    def reference(dZ, H_prev, W):
        H_prev, W = H_prev.clone().requires_grad_(), W.clone().requires_grad_()
        b = torch.zeros(W.shape[0], dtype=W.dtype, requires_grad=True)
        (H_prev @ W.T + b).backward(dZ)
        return W.grad, b.grad, H_prev.grad

    mistakes = [
        Mistake(
            lambda dZ, H, W: (dZ.T @ H, dZ, dZ @ W),
            "db has one row per example: sum dZ over the batch (dim 0)",
        ),
        Mistake(
            lambda dZ, H, W: (dZ.T @ H, dZ.mean(0), dZ @ W),
            "db is averaged over the batch: sum it (the 1/N is already inside dZ)",
        ),
        Mistake(
            lambda dZ, H, W: (H.T @ dZ, dZ.sum(0), dZ @ W),
            "dW is transposed: W is stored (out, in), so dW = dZ^T H_prev",
        ),
        Mistake(
            lambda dZ, H, W: (dZ.T @ H, dZ.sum(0), dZ @ W.T),
            "dH_prev goes back through W, not W^T: dH_prev = dZ W (W is (out, in))",
        ),
    ]
    return compare(
        "III D.1 linear_backward",
        student,
        reference,
        cases,
        mistakes=mistakes,
        names=("dW", "db", "dH_prev"),
        tol=1e-8,
        on_error="shapes: dZ (N, out), H_prev (N, in), W (out, in); dW (out, in), db (out,), "
        "dH_prev (N, in)",
        compares="(dW, db, dH_prev) with autograd's (as forward_backward computes them) on 3 "
        "random layers.",
        success="equal to autograd's dW, db and dH_prev on 3 random layers (a square one included)",
    )


def activation_backward(student: Callable) -> Result:
    """III D.2: `my_activation_backward(dA, Z, activation)`: dZ = dA * f'(Z), f by name."""
    cases = [
        Case(
            f"{name}, shape {shape}",
            (
                random(*shape, seed=i),
                random(*shape, seed=i + 5, scale=2, dtype=torch.float64),
                name,
            ),
        )
        for i, (name, shape) in enumerate(
            (("relu", (4, 6)), ("sigmoid", (5, 3)), ("tanh", (2, 7)), ("relu", (1, 9)))
        )
    ]

    def reference(dA, Z, activation):
        f, f_prime = backprop.ACTIVATIONS[activation]
        return dA * f_prime(Z, f(Z))

    def f(Z, activation):
        return backprop.ACTIVATIONS[activation][0](Z)

    mistakes = [
        Mistake(
            lambda dA, Z, a: dA,
            "dA returned unchanged: multiply by the activation's derivative f'(Z)",
        ),
        Mistake(
            lambda dA, Z, a: dA * f(Z, a),
            "multiplied by f(Z), not by its derivative "
            "(ReLU: [Z > 0]; sigmoid: s(1 - s); tanh: 1 - tanh^2)",
        ),
        Mistake(
            lambda dA, Z, a: dA * (1 - Z**2) if a == "tanh" else reference(dA, Z, a),
            "tanh's derivative is 1 - tanh(Z)^2, not 1 - Z^2",
        ),
        Mistake(
            lambda dA, Z, a: dA * Z * (1 - Z) if a == "sigmoid" else reference(dA, Z, a),
            "the sigmoid's derivative is s(1 - s) with s = sigmoid(Z), not Z(1 - Z)",
        ),
    ]
    return compare(
        "III D.2 activation_backward",
        student,
        reference,
        cases,
        mistakes=mistakes,
        names=("dZ",),
        tol=1e-6,
        compares="dZ with the derivatives of dl101.models.backprop.ACTIVATIONS (ReLU, sigmoid, "
        "tanh) on random pre-activations.",
        success="equal to dl101's ReLU, sigmoid and tanh derivatives (models/backprop.py) on "
        "random pre-activations",
    )


# --------------------------------------------------------------------------------------------
# III E Initialization, III F Implementation
# --------------------------------------------------------------------------------------------


def variance_through(weights: list[Tensor], activation: str) -> float:
    """The variance of N(0, 1) inputs after a stack of layers (zero biases) with the activation."""
    act = backprop.ACTIVATIONS[activation][0]
    h = random(500, weights[0].shape[1], seed=3)
    for w in weights:
        h = act(h @ w.T)
    return h.var().item()


def init(student: Callable) -> Result:
    """III E.1: `my_init(n_in, n_out, activation)`: a weight (n_out, n_in) that keeps the
    activations' variance (Kaiming for ReLU, as `init_linear(layer, "kaiming", ...)`)."""
    exercise = "III E.1 init"
    compares = (
        "the spread of your weights with init_linear(layer, 'kaiming', ...) for ReLU and "
        "tanh layers of several widths, and the variance after 8 layers."
    )
    widths = [128, 256, 64, 192, 128, 256, 64, 128, 128]  # fan-in differs from fan-out
    layers = list(zip(widths[:-1], widths[1:], strict=True))
    fan_out = torch.tensor([math.sqrt(n_in / n_out) for n_in, n_out in layers])
    depths = []
    for activation in ("relu", "tanh"):
        try:
            mine = [
                torch.as_tensor(student(n_in, n_out, activation)).float() for n_in, n_out in layers
            ]
        except NotImplementedError:
            return not_written(exercise, compares)
        except Exception as error:
            return raised(exercise, error, Case(f"{activation} layers", ()))
        package = []
        for n_in, n_out in layers:
            layer = nn.Linear(n_in, n_out)
            init_linear(layer, "kaiming", 0.0, activation)
            package.append(layer.weight.detach())
        if mine[0].shape != package[0].shape:
            transposed = mine[0].shape == package[0].T.shape
            hint = " (nn.Linear stores weights (out, in))" if transposed else ""
            return report(
                exercise,
                False,
                f"shape {tuple(mine[0].shape)} for n_in=128, "
                f"n_out=256, expected {tuple(package[0].shape)}{hint}",
            )
        ratios = torch.stack([m.std() / p.std() for m, p in zip(mine, package, strict=True)])
        means = torch.stack([m.mean() / m.std() for m in mine])
        depth = (
            f"after 8 {activation} layers the variance is "
            f"{variance_through(mine, activation):.3g} (the package's init: "
            f"{variance_through(package, activation):.3g})"
        )
        depths.append(depth)
        if (means.abs() > 0.05).any():
            return report(
                exercise,
                False,
                "the weights are not centred at 0: draw them from a "
                f"zero-mean distribution; {depth}",
            )
        if torch.allclose(ratios, torch.ones(8), rtol=0.08):
            continue
        if torch.allclose(ratios, fan_out, rtol=0.08):
            message = "scaled by n_out: Kaiming keeps the forward variance with n_in (fan-in)"
        elif activation == "relu" and torch.allclose(ratios, torch.full((8,), 0.5**0.5), rtol=0.08):
            message = (
                "ReLU's factor 2 is missing: ReLU zeroes half its inputs, so the variance "
                "halves at every layer; use std sqrt(2 / n_in)"
            )
        elif activation == "tanh" and torch.allclose(ratios, torch.full((8,), 2**0.5), rtol=0.08):
            message = (
                "ReLU's factor 2 on a tanh layer: tanh zeroes nothing, so the variance "
                "grows; the package uses std sqrt(1 / n_in) there"
            )
        else:
            r = ratios.mean().item()
            message = (
                f"std off by a factor {r:.3g} from the package's: the variance changes by "
                f"{r * r:.3g} at every layer"
            )
        return report(exercise, False, f"{message}; {depth}")
    return report(
        exercise,
        True,
        "the spread of init_linear(layer, 'kaiming', ...) for ReLU and "
        f"tanh layers of 64 to 256 units; {'; '.join(depths)}",
    )


def accuracy(student: Callable) -> Result:
    """III F.1: `my_accuracy(logits, labels)`: the fraction of rows whose largest logit is the
    label, as the classifiers' MulticlassAccuracy logs it."""
    from torchmetrics.classification import MulticlassAccuracy

    cases = []
    for i, (n, c) in enumerate(((20, 10), (5, 10), (100, 3), (8, 8))):
        logits = random(n, c, seed=i)
        y = labels(n, c, seed=i)
        y[: n // 2] = logits[: n // 2].argmax(1)  # about half right: far from chance and from 1
        cases.append(Case(f"{n} images, {c} classes", (logits, y)))

    def reference(logits, y):
        return MulticlassAccuracy(logits.shape[1], average="micro")(logits, y)

    mistakes = [
        Mistake(
            lambda o, y: (o.argmax(1) == y).sum(),
            "a count, not a fraction (off by a factor n): divide by the number of images",
        ),
        Mistake(
            lambda o, y: 100 * (o.argmax(1) == y).float().mean(),
            "a percentage: return a fraction in [0, 1]",
        ),
        Mistake(
            lambda o, y: (o.argmin(1) == y).float().mean(),
            "argmin: the prediction is the class with the largest logit",
        ),
    ]
    return compare(
        "III F.1 accuracy",
        student,
        reference,
        cases,
        mistakes=mistakes,
        names=("the accuracy",),
        on_error="the prediction of each row is logits.argmax(dim=1)",
        compares="with torchmetrics' MulticlassAccuracy (what dl101's classifiers log as "
        "val/acc) on 4 random batches.",
        success="equal to MulticlassAccuracy, the classifiers' val/acc, on 4 random batches",
    )


# --------------------------------------------------------------------------------------------
# IV A Convolution, IV B Padding and stride, IV C Pooling
# --------------------------------------------------------------------------------------------


def cross_correlation(student: Callable) -> Result:
    """IV A.1: `my_cross_correlation(X, K)`: the 2-D sum over every k x k window, no padding."""
    cases = [
        Case(
            f"a {h} x {w} input and a {a} x {b} kernel",
            (random(h, w, seed=h), random(a, b, seed=a + 10)),
        )
        for h, w, a, b in ((5, 5, 2, 2), (8, 8, 3, 3), (5, 7, 2, 3), (6, 4, 1, 2))
    ]

    def reference(X, K):
        return F.conv2d(X[None, None], K[None, None])[0, 0]

    def shorter(X, K):
        full = reference(X, K)
        return full[:-1, :-1]

    mistakes = [
        Mistake(
            lambda X, K: reference(X, K.flip(0, 1)),
            "that is a true convolution (the kernel flipped): PyTorch's conv2d, like the "
            "course's formula, computes a cross-correlation: X[i + a, j + b] * K[a, b]",
        ),
        Mistake(
            lambda X, K: reference(X, K.T),
            "the kernel is transposed: K[a, b] multiplies X[i + a, j + b] (a down, b across)",
        ),
        Mistake(
            shorter,
            "one row and one column short: an n x n input has n - k + 1 positions "
            "per axis (range(n - k + 1))",
        ),
    ]
    return compare(
        "IV A.1 cross_correlation",
        student,
        reference,
        cases,
        mistakes=mistakes,
        names=("the output",),
        tol=1e-5,
        compares="with F.conv2d (what nn.Conv2d, the CNNs' layers, computes) on random inputs and "
        "kernels, square and not.",
        success="equal to F.conv2d, what the CNNs' nn.Conv2d layers compute, on 4 random inputs "
        "and kernels (non-square ones included)",
    )


def output_size(student: Callable) -> Result:
    """IV B.1: `my_output_size(n, kernel_size, padding, stride)`: floor((n + 2p - k) / s) + 1."""
    settings = [
        (28, 5, 2, 1),
        (28, 5, 0, 1),
        (28, 3, 1, 2),
        (14, 5, 2, 2),
        (13, 4, 1, 3),
        (7, 2, 0, 2),
        (32, 3, 0, 1),
        (10, 3, 2, 3),
        (28, 4, 0, 2),
        (9, 3, 0, 3),
    ]
    cases = [Case(f"n={n}, k={k}, p={p}, s={s}", (n, k, p, s)) for n, k, p, s in settings]

    def reference(n, k, p, s):
        size = cnn_models.conv_output_size(n, k, p, s)
        layer = nn.Conv2d(1, 1, k, stride=s, padding=p)  # the formula is PyTorch's
        assert layer(torch.zeros(1, 1, n, n)).shape[-1] == size
        return size

    mistakes = [
        Mistake(
            lambda n, k, p, s: (n + 2 * p - k) / s + 1,
            "not a whole number: floor the division ((n + 2p - k) // s)",
        ),
        Mistake(
            lambda n, k, p, s: (n + p - k) // s + 1,
            "the padding counted once: it is added on both sides (2p)",
        ),
        Mistake(
            lambda n, k, p, s: (n + 2 * p - k) // s,
            "one short: the first position counts too (+ 1)",
        ),
        Mistake(
            lambda n, k, p, s: n + 2 * p - k + 1,
            "the stride is ignored: the window moves s pixels at a time (divide by s)",
        ),
        Mistake(
            lambda n, k, p, s: -(-(n + 2 * p - k) // s) + 1,
            "rounded up: a window that does not fit is dropped (floor, not ceil)",
        ),
        Mistake(
            lambda n, k, p, s: (n + 2 * p - k + 1) // s,
            "the + 1 is inside the division: floor((n + 2p - k) / s) + 1",
        ),
    ]
    return compare(
        "IV B.1 output_size",
        student,
        reference,
        cases,
        mistakes=mistakes,
        names=("the size",),
        compares="with dl101.models.cnn.conv_output_size and nn.Conv2d's output on 10 settings of "
        "n, k, p and s.",
        success="equal to conv_output_size and nn.Conv2d's output on 10 settings of n, k, p, s",
    )


POOL_CASES = [((1, 4, 4), 2), ((3, 6, 8), 2), ((2, 9, 6), 3), ((4, 2, 2), 2)]


def pool_check(exercise: str, kind: str, student: Callable, extra: Sequence[Mistake]) -> Result:
    """A pooling by hand against the CNNs' own pooling layer (`cnn.pooling`) of that kind."""
    cases = [
        Case(f"a {c} x {h} x {w} map, {k} x {k} windows", (random(c, h, w, seed=k + h), k))
        for (c, h, w), k in POOL_CASES
    ]
    reduce = torch.amax if kind == "max" else torch.mean

    def reference(X, k):
        layer, _ = cnn_models.pooling({"type": kind, "kernel_size": k}, tuple(X.shape), "check")
        return layer(X[None])[0]

    def by_view(X, k, dims=(2, 4), order=None):
        c, h, w = X.shape
        view = (
            X.view(c, h // k, w // k, k, k) if order == "wrong" else X.view(c, h // k, k, w // k, k)
        )
        return reduce(view, dim=dims)

    library = F.max_pool2d if kind == "max" else F.avg_pool2d
    mistakes = [
        Mistake(
            lambda X, k: library(X[None], k, stride=1)[0],
            "the windows overlap (stride 1): pooling moves k pixels at a time, giving H/k x W/k",
        ),
        Mistake(
            partial(by_view, order="wrong", dims=(3, 4)),
            "the windows are not k x k squares: view (C, H/k, k, W/k, k) and reduce over "
            "dims 2 and 4",
        ),
        Mistake(
            partial(by_view, dims=(1, 3)),
            "reduced over the wrong axes: in the view (C, H/k, k, W/k, k) the positions "
            "inside a window are dims 2 and 4",
        ),
        *extra,
    ]
    return compare(
        exercise,
        student,
        reference,
        cases,
        mistakes=mistakes,
        names=("the pooled map",),
        on_error="view X (C, H, W) as (C, H/k, k, W/k, k), then reduce over dims 2 and 4",
        compares=f"with the CNNs' own {kind} pooling layer (dl101.models.cnn.pooling) on 4 random "
        "feature maps.",
        success=f"equal to the CNNs' {kind} pooling layer (cnn.pooling) on 4 random feature maps",
    )


def max_pool(student: Callable) -> Result:
    """IV C.1: `my_max_pool(X, k)`: the largest value of each k x k window of a (C, H, W) map."""
    return pool_check("IV C.1 max_pool", "max", student, [])


def avg_pool(student: Callable) -> Result:
    """IV C.2: `my_avg_pool(X, k)`: the mean of each k x k window of a (C, H, W) map."""
    extra = [
        Mistake(
            lambda X, k: X.view(X.shape[0], X.shape[1] // k, k, X.shape[2] // k, k).sum((2, 4)),
            "summed each window (off by a factor k^2): average pooling divides by k^2",
        ),
    ]
    return pool_check("IV C.2 avg_pool", "avg", student, extra)


# --------------------------------------------------------------------------------------------
# IV D Fully connected network, IV E Implementation
# --------------------------------------------------------------------------------------------

HEAD_CASES = [
    ("LeNet-5 (conf/model/lenet)", "model/lenet", (1, 28, 28)),
    (
        "the valid-padding variant (conf/cnn_variant/valid_maxpool)",
        "cnn_variant/valid_maxpool",
        (1, 28, 28),
    ),
    ("the stride-2 variant on 3 x 32 x 32 images", "cnn_variant/same_stride2", (3, 32, 32)),
    ("the strong CNN (conf/model/cnn)", "model/cnn", (1, 28, 28)),
]


def build_cnn(input_shape, blocks, head=(), seed: int = 0) -> cnn_models.CNN:
    torch.manual_seed(seed)
    return cnn_models.CNN(list(input_shape), 10, blocks, list(head), optimizer=sgd())


def walk_blocks(input_shape, blocks, channels=True, pool=True, pad=True) -> int:
    """The flattened size after the blocks, with one of the steps optionally left out (mistakes)."""
    c, h, w = input_shape
    for block in blocks:
        k, s = block["kernel_size"], block.get("stride", 1)
        p = cnn_models.resolve_padding(block.get("padding", 0), k) if pad else 0
        c = block["out_channels"]
        h, w = (cnn_models.conv_output_size(n, k, p, s) for n in (h, w))
        if pool and block.get("pool"):
            pk = block["pool"]["kernel_size"]
            ps = block["pool"].get("stride") or pk
            h, w = (cnn_models.conv_output_size(n, pk, 0, ps) for n in (h, w))
    return (c if channels else 1) * h * w


def head_in_features(student: Callable) -> Result:
    """IV D.1: `my_head_in_features(input_shape, conv_blocks)`: the size of the flattened last
    feature map, the head's first in_features."""
    cases = [Case(name, (shape, conv_blocks(config))) for name, config, shape in HEAD_CASES]

    def reference(input_shape, blocks):
        head = build_cnn(input_shape, blocks).head
        return next(m for m in head if isinstance(m, nn.Linear)).in_features

    mistakes = [
        Mistake(
            partial(walk_blocks, channels=False),
            "the channels are missing: the head reads C x H x W values, C = the last "
            "block's out_channels",
        ),
        Mistake(
            partial(walk_blocks, pool=False),
            "the pooling layers are left out: each block's pooling shrinks the map too",
        ),
        Mistake(
            partial(walk_blocks, pad=False),
            "the padding is ignored: 'same' is (k - 1) / 2 and an int is itself "
            "(dl101.models.cnn.resolve_padding)",
        ),
    ]
    return compare(
        "IV D.1 head_in_features",
        student,
        reference,
        cases,
        mistakes=mistakes,
        names=("the size",),
        compares="with the in_features of the head dl101's CNN builds from the same blocks "
        "(LeNet-5, the padding/stride variants, the strong CNN).",
        success="equal to the head's in_features of dl101's CNN for LeNet-5 (400), two variants "
        "and the strong CNN",
    )


@functools.cache
def lenet_cases() -> tuple[Case, ...]:
    """Images, the (weight, bias) of each layer of dl101's LeNet-5, and its logits."""
    cases = []
    for i, batch in enumerate((2, 5)):
        model = build_cnn((1, 28, 28), conv_blocks("model/lenet"), (120, 84), seed=i).eval()
        layers = [m for m in model.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
        x = torch.rand(batch, 1, 28, 28, generator=torch.Generator().manual_seed(i))
        with torch.no_grad():
            params = [(m.weight.clone(), m.bias.clone()) for m in layers]
            expected = model(x)
        cases.append(Case(f"{batch} random images, random weights", (x, params), expected))
    return tuple(cases)


def lenet_forward(student: Callable) -> Result:
    """IV E.1: `my_lenet_forward(x, params)`: LeNet-5's logits from its layers' (weight, bias)
    pairs, with F.conv2d, F.relu, F.max_pool2d and F.linear."""

    def lenet(x, params, pool=F.max_pool2d, act=F.relu, last=None):
        (w1, b1), (w2, b2), *dense = params
        h = pool(act(F.conv2d(x, w1, b1, padding=2)), 2)
        h = pool(act(F.conv2d(h, w2, b2)), 2).flatten(1)
        for i, (w, b) in enumerate(dense):
            h = F.linear(h, w, b)
            h = act(h) if i < len(dense) - 1 else h
        return last(h) if last else h

    mistakes = [
        Mistake(partial(lenet, last=F.relu), "logits clipped at 0: no ReLU after the last layer"),
        Mistake(
            partial(lenet, pool=F.avg_pool2d),
            "average pooling: LeNet-5 here (conf/model/lenet) uses max pooling",
        ),
        Mistake(
            partial(lenet, act=lambda h: h),
            "no ReLU: each convolution and hidden layer is followed by one",
        ),
        Mistake(
            partial(lenet, act=torch.tanh),
            "tanh, as the original LeNet-5; dl101's (conf/model/lenet) uses ReLU",
        ),
    ]
    return compare(
        "IV E.1 lenet_forward",
        student,
        None,
        lenet_cases(),
        mistakes=mistakes,
        names=("the logits",),
        tol=1e-4,
        on_error="the first convolution pads by 2, so the head reads 16 x 5 x 5 = 400 values; "
        "F.linear(h, W, b) takes W as nn.Linear stores it",
        compares="your logits with dl101's LeNet-5 (conf/model/lenet) holding the same weights, on "
        "2 random batches.",
        success="equal to dl101's LeNet-5 forward (conf/model/lenet) on 2 random batches",
    )


# --------------------------------------------------------------------------------------------
# V A Motivation, V B Design, V C Perplexity, V D Implementation
# --------------------------------------------------------------------------------------------


def rnn_parameters(student: Callable) -> Result:
    """V A.1: `my_rnn_parameters(input_size, hidden_size, num_steps)`: the course's RNN cell's
    weights and biases (the count does not depend on num_steps)."""
    settings = [(28, 128, 28), (28, 128, 5), (3, 7, 100), (10, 4, 1)]
    cases = [Case(f"input {i}, hidden {h}, {t} steps", (i, h, t)) for i, h, t in settings]

    def reference(i, h, t):
        return sum(p.numel() for p in rnn_models.ScratchRNN(i, h).parameters())

    mistakes = [
        Mistake(
            lambda i, h, t: t * (i * h + h * h + h),
            "grows with the number of steps: the same weights serve every step (they are "
            "shared across time)",
        ),
        Mistake(lambda i, h, t: i * h + h * h, "short by hidden_size: the bias b_h is missing"),
        Mistake(
            lambda i, h, t: i * h + h, "short by hidden^2: the recurrent weights W_hh are missing"
        ),
        Mistake(
            lambda i, h, t: i * h + h * h + 2 * h,
            "two biases (nn.RNN stores b_ih and b_hh); the course's equation has one, b_h",
        ),
    ]
    return compare(
        "V A.1 rnn_parameters",
        student,
        reference,
        cases,
        mistakes=mistakes,
        names=("the count",),
        compares="with the parameters of dl101's ScratchRNN for 4 sizes and sequence lengths.",
        success="equal to ScratchRNN's parameter count for 4 sizes (20,096 for the course's), "
        "whatever the number of steps",
    )


def rnn_weights(inputs, hidden, seed, dtype=torch.float32):
    """A ScratchRNN's random weights and a random input step and state for them."""
    torch.manual_seed(seed)
    cell = rnn_models.ScratchRNN(inputs, hidden).to(dtype)
    W_xh, W_hh, b_h = (p[0].detach() for p in (cell.W_xh, cell.W_hh, cell.b_h))
    return W_xh, W_hh, b_h


def rnn_step(student: Callable) -> Result:
    """V B.1: `my_rnn_step(X_t, H_prev, W_xh, W_hh, b_h)`: one step of the course's equation,
    H_t = tanh(X_t W_xh + H_prev W_hh + b_h)."""
    cases = []
    for batch, inputs, hidden in ((3, 5, 4), (2, 28, 16), (4, 6, 6)):
        W_xh, W_hh, b_h = rnn_weights(inputs, hidden, seed=inputs)
        cases.append(
            Case(
                f"a batch of {batch}, {inputs} inputs, {hidden} hidden units",
                (
                    random(batch, inputs, seed=batch),
                    random(batch, hidden, seed=hidden),
                    W_xh,
                    W_hh,
                    b_h,
                ),
            )
        )

    def reference(X_t, H_prev, W_xh, W_hh, b_h):
        cell = rnn_models.ScratchRNN(W_xh.shape[0], W_xh.shape[1])
        with torch.no_grad():
            for param, value in ((cell.W_xh[0], W_xh), (cell.W_hh[0], W_hh), (cell.b_h[0], b_h)):
                param.copy_(value)
            return cell(X_t[:, None], H_prev[None])[0][:, 0]

    def step(X, H, W_xh, W_hh, b, act=torch.tanh, transpose=False, bias=True):
        return act(X @ W_xh + H @ (W_hh.T if transpose else W_hh) + (b if bias else 0))

    mistakes = [
        Mistake(
            partial(step, transpose=True),
            "W_hh is transposed: the course multiplies from the right, H_{t-1} W_hh",
        ),
        Mistake(partial(step, bias=False), "the bias b_h is missing"),
        Mistake(partial(step, act=lambda z: z), "no tanh: H_t = tanh(...) stays within (-1, 1)"),
        Mistake(partial(step, act=torch.relu), "ReLU where the course's equation has tanh"),
        Mistake(partial(step, act=torch.sigmoid), "sigmoid where the course's equation has tanh"),
    ]
    return compare(
        "V B.1 rnn_step",
        student,
        reference,
        cases,
        mistakes=mistakes,
        names=("H_t",),
        on_error="X_t (B, I) @ W_xh (I, H) and H_prev (B, H) @ W_hh (H, H): the course "
        "multiplies from the right",
        compares="H_t with one step of dl101's ScratchRNN holding the same weights, on 3 random "
        "batches.",
        success="equal to one step of dl101's ScratchRNN (hence nn.RNN) on 3 random batches",
    )


def bptt_variant(
    x,
    h0,
    W_xh,
    W_hh,
    b_h,
    grad_outputs,
    last_only=False,
    carry=True,
    tanh_grad=True,
    transpose=True,
):
    """Backpropagation through time with one of its parts optionally wrong (the mistakes)."""
    hs = [h0]
    for t in range(x.shape[1]):
        hs.append(torch.tanh(x[:, t] @ W_xh + hs[-1] @ W_hh + b_h))
    grads = [torch.zeros_like(W_xh), torch.zeros_like(W_hh), torch.zeros_like(b_h)]
    back = torch.zeros_like(h0)
    steps = [x.shape[1] - 1] if last_only else reversed(range(x.shape[1]))
    for t in steps:
        dh = grad_outputs[:, t] + (back if carry else 0)
        dz = dh * (1 - hs[t + 1] ** 2) if tanh_grad else dh
        grads[0] += x[:, t].T @ dz
        grads[1] += hs[t].T @ dz
        grads[2] += dz.sum(0)
        back = dz @ (W_hh.T if transpose else W_hh)
    return tuple(grads)


def bptt(student: Callable) -> Result:
    """V B.2: `my_bptt(x, h0, W_xh, W_hh, b_h, grad_outputs) -> (dW_xh, dW_hh, db_h)`."""
    cases = []
    for batch, steps, inputs, hidden in ((2, 3, 4, 5), (3, 5, 2, 3), (1, 8, 3, 3)):
        W_xh, W_hh, b_h = rnn_weights(inputs, hidden, seed=steps, dtype=torch.float64)
        cases.append(
            Case(
                f"{batch} sequence(s) of {steps} steps, {inputs} inputs, {hidden} hidden units",
                (
                    random(batch, steps, inputs, seed=steps, dtype=torch.float64),
                    random(batch, hidden, seed=hidden, dtype=torch.float64),
                    W_xh,
                    W_hh,
                    b_h,
                    random(batch, steps, hidden, seed=batch, dtype=torch.float64),
                ),
            )
        )

    def reference(*args):
        return backprop.rnn_backward_through_time(*args)[:3]

    mistakes = [
        Mistake(
            partial(bptt_variant, last_only=True),
            "the gradient of only the last step: every step t = 1..T adds its contribution",
        ),
        Mistake(
            partial(bptt_variant, carry=False),
            "nothing flows back through time: the gradient reaching H_t is its own dL/dH_t "
            "plus what H_{t+1} sends back, dz_{t+1} W_hh^T",
        ),
        Mistake(
            partial(bptt_variant, tanh_grad=False),
            "tanh's derivative is missing: dz_t = dh_t * (1 - H_t^2)",
        ),
        Mistake(
            partial(bptt_variant, transpose=False),
            "the gradient goes back through W_hh, not W_hh^T: carry = dz_t W_hh^T",
        ),
    ]
    return compare(
        "V B.2 bptt",
        student,
        reference,
        cases,
        mistakes=mistakes,
        names=("dW_xh", "dW_hh", "db_h"),
        tol=1e-8,
        compares="(dW_xh, dW_hh, db_h) with dl101.models.backprop.rnn_backward_through_time "
        "(equal to autograd) on 3 random sequences.",
        success="equal to rnn_backward_through_time (autograd's gradients) on 3 random sequences "
        "of 3 to 8 steps",
    )


def perplexity(student: Callable) -> Result:
    """V C.1: `my_perplexity(logits, targets)`: exp of the mean negative log-likelihood."""
    cases = [
        Case(
            f"logits of shape {shape}",
            (
                random(*shape, seed=i, scale=2),
                labels(math.prod(shape[:-1]), shape[-1], i).view(shape[:-1]),
            ),
        )
        for i, shape in enumerate(((4, 50, 30), (2, 10, 5), (100, 7)))
    ]
    stress = random(3, 8, 6, seed=5, scale=60) + 1000
    targets = stress.argmax(-1)
    targets[:, 0] = stress[:, 0].argmin(-1)  # one target per row whose probability underflows
    cases.append(Case("logits of 1000", (stress, targets)))

    def log_p(o, y):
        return o.log_softmax(-1).gather(-1, y.unsqueeze(-1))

    mistakes = [
        Mistake(
            lambda o, y: torch.exp(-log_p(o, y).sum()),
            "exp of the sum: average the negative log-likelihood over the n tokens first "
            "(yours is PPL to the power n)",
        ),
        Mistake(
            lambda o, y: 2 ** (-log_p(o, y).mean()),
            "2 to the power of a log-likelihood in nats: use exp, or log2 throughout",
        ),
        Mistake(
            lambda o, y: 1 / log_p(o, y).exp().mean(),
            "1 over the mean probability: perplexity is exp(mean NLL), 1 over the geometric mean",
        ),
        Mistake(
            lambda o, y: torch.exp(-o.gather(-1, y.unsqueeze(-1)).mean()),
            "logits used as log-probabilities: apply log_softmax first",
        ),
        Mistake(
            lambda o, y: torch.exp(log_p(o, y).mean()),
            "1 / PPL: the minus sign is missing, exp(-mean log p)",
        ),
        Mistake(
            lambda o, y: torch.exp(-o.softmax(-1).gather(-1, y.unsqueeze(-1)).log().mean()),
            "inf on logits of 1000: log(softmax) underflows; use log_softmax",
        ),
        Mistake(
            lambda o, y: torch.exp(
                -(o.exp() / o.exp().sum(-1, keepdim=True)).gather(-1, y.unsqueeze(-1)).log().mean()
            ),
            "NaN on logits of 1000: exp overflows; use log_softmax",
        ),
    ]
    return compare(
        "V C.1 perplexity",
        student,
        rnn_models.perplexity,
        cases,
        mistakes=mistakes,
        names=("the perplexity",),
        tol=1e-4,
        on_error="targets hold one index per position: pick log p with "
        "gather(-1, targets.unsqueeze(-1))",
        compares="with dl101.models.rnn.perplexity (which equals the model's val/ppl) on 3 random "
        "batches and on logits of 1000.",
        success="equal to dl101's perplexity (the model's val/ppl) on 3 random batches, stable at "
        "logits of 1000",
    )


@functools.cache
def rnn_classifier_cases() -> tuple[Case, ...]:
    """Images, the weights of dl101's RNNClassifier (scratch cell) and its logits."""
    cases = []
    for i, (shape, hidden) in enumerate((((1, 28, 28), 16), ((1, 12, 12), 8), ((1, 10, 7), 5))):
        torch.manual_seed(i)
        model = rnn_models.RNNClassifier(list(shape), 10, "scratch", hidden, optimizer=sgd())
        images = torch.rand(3, *shape, generator=torch.Generator().manual_seed(i))
        with torch.no_grad():
            weights = (model.rnn.W_xh[0], model.rnn.W_hh[0], model.rnn.b_h[0], model.dense.weight,
                       model.dense.bias)  # fmt: skip
            args = (images, *(w.clone() for w in weights))
            expected = model(images)
        shown = "x".join(map(str, shape))
        cases.append(Case(f"3 images of {shown}, {hidden} hidden units", args, expected))
    return tuple(cases)


def rnn_classifier(student: Callable) -> Result:
    """V D.1: `my_rnn_classifier(images, W_xh, W_hh, b_h, W_out, b_out)`: the course's RNN reads
    each image row by row and classifies its last state."""

    def states(images, W_xh, W_hh, b_h, columns=False):
        x = images.squeeze(1)
        x = x.transpose(1, 2) if columns else x
        h, out = torch.zeros(len(x), len(b_h)), []
        for t in range(x.shape[1]):
            h = torch.tanh(x[:, t] @ W_xh + h @ W_hh + b_h)
            out.append(h)
        return out

    mistakes = [
        Mistake(
            lambda x, a, b, c, W, d: states(x, a, b, c, columns=True)[-1] @ W.T + d,
            "read the image column by column: the course's time steps are its rows "
            "(step t reads row t, images[:, 0, t])",
        ),
        Mistake(
            lambda x, a, b, c, W, d: torch.stack(states(x, a, b, c)).mean(0) @ W.T + d,
            "classified the mean of the states: the dense layer reads the last one, H_T",
        ),
        Mistake(
            lambda x, a, b, c, W, d: states(x, a, b, c)[0] @ W.T + d,
            "classified the first state: the dense layer reads the last one, H_T",
        ),
        Mistake(
            lambda x, a, b, c, W, d: states(x, a, b, c)[-1] @ W.T,
            "the dense layer's bias is missing",
        ),
    ]
    return compare(
        "V D.1 rnn_classifier",
        student,
        None,
        rnn_classifier_cases(),
        mistakes=mistakes,
        names=("the logits",),
        tol=1e-5,
        on_error="images are (B, 1, rows, columns): step t reads row t, images[:, 0, t] (B, "
        "columns); W_out is (classes, hidden) as nn.Linear stores it",
        compares="your logits with dl101's RNNClassifier (scratch cell) holding the same weights, "
        "on 28 x 28 and smaller, non-square images.",
        success="equal to dl101's RNNClassifier forward on 3 batches (28 x 28, 12 x 12, 10 x 7)",
    )


def epoch_one_accuracy(student: Callable, runs=None) -> Result:
    """V D.2 (predict): `my_epoch_one_accuracy()`: the course's RNN's validation accuracy after
    its first epoch, compared with the runs of the `rnn` experiment (pass `runs["rnn"]`)."""
    exercise = "V D.2 epoch_one_accuracy"
    try:
        guess = float(student())
    except NotImplementedError:
        return not_written(
            exercise,
            "your guess with the validation accuracy the runs of the "
            "`rnn` experiment logged after their first epoch.",
        )
    except (TypeError, ValueError):
        return report(exercise, False, "answer a number: an accuracy between 0 and 1")
    if not 0 <= guess <= 1:
        hint = " (a percentage? answer a fraction)" if 1 < guess <= 100 else ""
        return report(exercise, False, f"{guess:g} is not an accuracy between 0 and 1{hint}")
    firsts = [run.values("val/acc")[0] for run in runs or [] if run.values("val/acc")]
    if not firsts:
        return report(
            exercise,
            False,
            f"your guess is {guess:.3f}; run the experiment first "
            "(runs['rnn']), then call this check with it",
        )
    actual = sum(firsts) / len(firsts)
    if abs(guess - actual) <= 0.05:
        return report(
            exercise,
            True,
            f"{guess:.3f}, and the run reached {actual:.4f} after one epoch: within 0.05",
        )
    if guess <= 0.15:
        why = "about chance (1 in 10 digits): one epoch is 430 steps of 128 images, plenty to learn"
    elif guess < actual:
        why = "too pessimistic: most of the learning happens in the first epoch"
    else:
        why = "too optimistic: the later epochs still add a few points"
    return report(
        exercise, False, f"{guess:.3f} is {why}; the run reached {actual:.4f} after one epoch"
    )


# --------------------------------------------------------------------------------------------
# The exercises by section: the check's name is the exercise's, the student's function my_<name>
# --------------------------------------------------------------------------------------------

EXERCISES: dict[str, list[Callable]] = {
    "I B": [split],
    "II A": [squared_error, closed_form_fit, gradient_step],
    "II B": [softmax, cross_entropy],
    "II C": [parameters, logistic_regression],
    "III A": [polynomial_features, best_degree],
    "III B": [sgd_weight_decay, dropout],
    "III C": [mlp_forward],
    "III D": [linear_backward, activation_backward],
    "III E": [init],
    "III F": [accuracy],
    "IV A": [cross_correlation],
    "IV B": [output_size],
    "IV C": [max_pool, avg_pool],
    "IV D": [head_in_features],
    "IV E": [lenet_forward],
    "V A": [rnn_parameters],
    "V B": [rnn_step, bptt],
    "V C": [perplexity],
    "V D": [rnn_classifier, epoch_one_accuracy],
}
