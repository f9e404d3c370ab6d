"""Pictures that explain the course's ideas, one per section, drawn from the package's own code:
its closed-form fit and loss, its softmax regression, activations, convolution formulas and
pooling layers, a trained CNN's first layer, and its scratch RNN cell.

Each function returns a `matplotlib.figure.Figure` whose plotted data tests read back;
`save(figure, path)` writes it as a PNG. No pyplot state, no display needed.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from torch import Tensor, nn

from dl101.course.figures import save
from dl101.models.activations import ACTIVATIONS
from dl101.models.cnn import conv_output_size, pooling, resolve_padding
from dl101.models.linear_regression import closed_form_fit, squared_error
from dl101.models.rnn import ScratchRNN

__all__ = [
    "activations",
    "convolution_steps",
    "feature_maps",
    "fit_full_batch",
    "house_prices",
    "mnist_digit",
    "polynomial_fits",
    "rnn_gradient_norms",
    "save",
    "softmax_regions",
]

# The course's table predicts 379, 288 and 432 ($1000) for 2,104, 1,600 and 2,400 sq ft:
# 0.18 x area rounded, the line y = W x (no bias) of its illustration.
COURSE_SLOPE = 0.18
COURSE_TABLE_MSE = 2058  # its table's average, from rounded residuals and a price of 369
QUOTE = (2000.0, 400.0)  # Example 1: $400,000 asked for 2,000 sq ft
EDGE_KERNEL = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])  # Sobel: x


def house_prices(data) -> Figure:
    """Course II A: the three houses of Example 1 (the `houses_price` datamodule's raw rows), the
    course's line y = 0.18 x and the least-squares line of `closed_form_fit`, each with its
    residuals and mean squared error, and the $400k quote for 2,000 sq ft."""
    area, price = data.x[:, 0].double(), data.y.double()
    w, b = closed_form_fit(area[:, None], price)
    area, price = area.numpy(), price.numpy()
    course_note = f"\n(the course's table, rounded: {COURSE_TABLE_MSE:,})"
    lines = {  # name: slope, bias, label's last line, colour, style, where its residual bars go
        "the course's line": (COURSE_SLOPE, 0.0, course_note, "tab:orange", "--", -12),
        "least squares (closed_form_fit)": (w.item(), b.item(), "", "tab:blue", "-", 12),
    }
    figure = Figure(figsize=(8, 5.2))
    ax = figure.subplots()
    grid = np.linspace(1400, 2600, 2)
    for name, (slope, bias, note, color, style, offset) in lines.items():
        fitted = slope * area + bias
        mse = squared_error(torch.from_numpy(fitted), torch.from_numpy(price)).item()
        at_quote = slope * QUOTE[0] + bias
        line = f"{slope:.4g} × area" + (f" + {bias:.1f}" if bias else "")
        label = f"{name}:\nprice = {line}, mean squared error {mse:,.0f}{note}"
        ax.plot(grid, slope * grid + bias, style, color=color,
                label=label + f"\n2,000 sq ft → {at_quote:.1f}")  # fmt: skip
        ax.vlines(area + offset, fitted, price, color=color, linewidth=2, alpha=0.6)
        ax.plot(QUOTE[0], at_quote, "o", color=color, markersize=6)
    ax.plot(area, price, "ko", markersize=8, label="the three houses", zorder=3)
    ax.plot(*QUOTE, "r*", markersize=14, label="the quote: $400k for 2,000 sq ft", zorder=3)
    ax.set(xlabel="area (sq ft)", ylabel="price ($1000)", xlim=(1400, 2600))
    ax.set_title("II A: is $400k for 2,000 sq ft a good price? (residuals: vertical bars)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return figure


def fit_full_batch(model, data, steps: int = 300):
    """Train a classifier as the course_softmax_houses experiment does: every row in one batch,
    `steps` steps of the model's own optimizer (SGD, lr 0.1, momentum 0.9) on the cross-entropy."""
    data.setup("fit")
    x, y = data.train_set.x, data.train_set.y
    optimizer = model.configure_optimizers()
    model.train()
    for _ in range(steps):
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
    return model.eval()


@torch.no_grad()
def softmax_regions(model, data) -> Figure:
    """Course II B: a trained softmax regression's P(Good) over area and bathrooms (shading), its
    decision boundary P = 0.5 (a straight line: the model is linear in its inputs) and the ten
    houses of Example 2 by class, those it gets wrong circled."""
    area = torch.linspace(1200, 3200, 201)
    baths = torch.linspace(1.5, 4.5, 121)
    mesh = torch.stack(torch.meshgrid(area, baths, indexing="xy"), dim=-1)  # (121, 201, 2)
    good = model(data.transform(mesh.reshape(-1, 2))).softmax(-1)[:, 1].reshape(mesh.shape[:2])
    area, baths, good = area.numpy(), baths.numpy(), good.numpy()
    figure = Figure(figsize=(7.5, 4.6))
    ax = figure.subplots()
    shading = ax.contourf(area, baths, good, levels=np.linspace(0, 1, 11), cmap="RdBu", alpha=0.7)
    ax.contour(area, baths, good, levels=[0.5], colors="k", linewidths=2)
    names = data.class_names
    figure.colorbar(shading, ax=ax, label=f"P({names[1]}) = softmax(o)[{names[1]}]")
    x, y = data.x, data.y
    predicted = model(data.transform(x)).argmax(-1)
    for label, (marker, color) in enumerate((("X", "tab:red"), ("o", "tab:blue"))):
        rows = y == label
        ax.scatter(*x[rows].T.numpy(), marker=marker, s=90, color=color, edgecolor="k",
                   label=names[label], zorder=3)  # fmt: skip
    wrong = predicted != y
    ax.scatter(*x[wrong].T.numpy(), s=380, facecolor="none", edgecolor="k", linewidth=1.5,
               label="misclassified", zorder=3)  # fmt: skip
    accuracy = (~wrong).float().mean().item()
    ax.set(xlabel="area (sq ft)", ylabel="bathrooms",
           title=f"II B: softmax regression on ten houses (training accuracy {accuracy:.1f}),"
                 f"\nboundary P({names[1]}) = 0.5 in black")  # fmt: skip
    ax.set_yticks([2, 3, 4])
    ax.legend(fontsize=8, loc="lower right")
    return figure


def sin_points(seed: int = 0) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Notebook 02's III A data: 24 points of sin(3x) + N(0, 0.2^2) noise on [-1, 1], split into
    interleaved halves of 12 (training: even positions, validation: odd)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.linspace(-1, 1, 24, dtype=torch.float64)
    y = torch.sin(3 * x) + 0.2 * torch.randn(24, generator=g, dtype=torch.float64)
    return x, y, torch.arange(0, 24, 2), torch.arange(1, 24, 2)


def powers(x: Tensor, degree: int) -> Tensor:
    """The polynomial design matrix (N, degree): x, x^2, ..., x^degree (the bias is the fit's)."""
    return x[:, None] ** torch.arange(1, degree + 1)


def polynomial_fits(shown=(1, 3, 11), max_degree: int = 11, seed: int = 0) -> Figure:
    """Course III A: polynomials fitted by `closed_form_fit` to 12 noisy points of sin(3x); left,
    the fits of the `shown` degrees (underfitting, about right, interpolating); right, training
    and validation error against the degree: the validation error's U."""
    x, y, train, val = sin_points(seed)
    grid = torch.linspace(-1, 1, 400, dtype=torch.float64)
    degrees = range(1, max_degree + 1)
    fits = {d: closed_form_fit(powers(x[train], d), y[train]) for d in degrees}
    errors = {
        name: [
            squared_error(powers(x[idx], d) @ w + b, y[idx]).item() for d, (w, b) in fits.items()
        ]
        for name, idx in (("training", train), ("validation", val))
    }
    figure = Figure(figsize=(11, 4.2))
    fit_ax, error_ax = figure.subplots(1, 2)
    fit_ax.plot(grid.numpy(), torch.sin(3 * grid).numpy(), ":", color="gray",
                label="sin(3x), the truth")  # fmt: skip
    for degree in shown:
        w, b = fits[degree]
        fit_ax.plot(grid.numpy(), (powers(grid, degree) @ w + b).numpy(), label=f"degree {degree}")
    fit_ax.plot(x[train].numpy(), y[train].numpy(), "ko", label="training points (12)")
    fit_ax.plot(x[val].numpy(), y[val].numpy(), "o", mfc="white", mec="k",
                label="validation points (12)")  # fmt: skip
    fit_ax.set(xlabel="x", ylabel="y", ylim=(-2, 2), title="Least-squares polynomial fits")
    fit_ax.legend(fontsize=8, loc="upper left")
    for name, values in errors.items():
        error_ax.plot(degrees, values, marker="o", label=name)
    best = min(degrees, key=lambda d: errors["validation"][d - 1])
    error_ax.axvline(best, color="gray", linestyle="--", label=f"best validation: degree {best}")
    error_ax.set_yscale("log")
    floor = 1e-3  # the interpolating degrees' training error (about 0) drawn on the floor
    below = [d for d in degrees if errors["training"][d - 1] < floor]
    if below:
        error_ax.annotate(f"degree {below[0]}+: training error ≈ 0 (off the axis)",
                          xy=(below[0], floor), xytext=(1, 1.4 * floor), fontsize=8,
                          arrowprops={"arrowstyle": "->"})  # fmt: skip
    error_ax.set(xlabel="polynomial degree", ylabel="mean squared error", xticks=list(degrees),
                 ylim=(floor / 2, None),
                 title="Training error falls; validation error is a U")  # fmt: skip
    error_ax.legend(fontsize=8)
    for ax in (fit_ax, error_ax):
        ax.grid(alpha=0.3, which="both")
    figure.suptitle("III A: underfitting (degree 1) and overfitting (degree 11)")
    return figure


def activations(names=("sigmoid", "tanh", "relu")) -> Figure:
    """Course III E: the activations the models use (`ACTIVATIONS`) and their derivatives by
    autograd. The sigmoid's slope is at most 1/4, so a gradient passing L sigmoid layers is
    scaled by at most (1/4)^L: it vanishes."""
    z = torch.linspace(-5, 5, 1001, requires_grad=True)
    figure = Figure(figsize=(10, 3.8))
    value_ax, slope_ax = figure.subplots(1, 2)
    for name in names:
        (slope,) = torch.autograd.grad(ACTIVATIONS[name]()(z).sum(), z)
        value_ax.plot(z.detach().numpy(), ACTIVATIONS[name]()(z).detach().numpy(), label=name)
        slope_ax.plot(z.detach().numpy(), slope.numpy(), label=f"{name}'")
    slope_ax.axhline(0.25, color="k", linestyle=":", linewidth=1)
    slope_ax.annotate("sigmoid' ≤ 1/4: after L layers,\na gradient is ≤ (1/4)^L of its size",
                      xy=(0, 0.25), xytext=(1.2, 0.45), fontsize=8,
                      arrowprops={"arrowstyle": "->"})  # fmt: skip
    value_ax.set(xlabel="z", ylabel="φ(z)", ylim=(-1.2, 2.5), title="Activations φ")
    slope_ax.set(xlabel="z", ylabel="φ'(z) (autograd)", ylim=(-0.05, 1.1),
                 title="Their derivatives")  # fmt: skip
    for ax in (value_ax, slope_ax):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper left")
    figure.suptitle("III E: why sigmoid gradients vanish")
    return figure


def mnist_digit(data, index: int = 0) -> tuple[Tensor, int]:
    """An MNIST test digit from the datamodule as pixels in [0, 1] (its normalization undone),
    and its label. Needs `make data`."""
    data.setup("test")
    x = data.test_set.x[index, 0].cpu()
    pixels = x * data.std + data.mean if data.normalize else x
    return pixels.clamp(0, 1), int(data.test_set.y[index])


def conv_title(name: str, n: int, k: int, p: int, s: int) -> str:
    out = conv_output_size(n, k, p, s)
    return f"{name}\n⌊({n} + 2·{p} − {k}) / {s}⌋ + 1 = {out}"


def convolution_steps(digit: Tensor, kernel: Tensor = EDGE_KERNEL) -> Figure:
    """Course IV A-C: a digit (H, W) through one 3x3 convolution (an edge kernel by default) with
    same and valid padding and with stride 2, and the same-padded map through 2x2 max and
    average pooling (the CNN's own pooling layers). Each output's size comes from
    `conv_output_size`; all maps share one colour scale and are drawn over the input's area."""
    n, k = digit.shape[-1], kernel.shape[-1]
    x, weight = digit.reshape(1, 1, *digit.shape[-2:]), kernel.reshape(1, 1, k, k)
    same = resolve_padding("same", k)
    shape = (1, *digit.shape[-2:])
    max_pool, _ = pooling({"type": "max", "kernel_size": 2}, shape, "max")
    avg_pool, _ = pooling({"type": "avg", "kernel_size": 2}, shape, "avg")
    conv_same = F.conv2d(x, weight, padding=same)
    strided = F.conv2d(x, weight, padding=same, stride=2)
    panels = [  # (title, map, its first pixel's centre and spacing, in input pixels)
        (conv_title("same padding", n, k, same, 1), conv_same, 0, 1),
        (conv_title("valid padding", n, k, 0, 1), F.conv2d(x, weight), same, 1),
        (conv_title("stride 2, same padding", n, k, same, 2), strided, 0, 2),
        (conv_title("max pooling 2x2 of 'same'", n, 2, 0, 2), max_pool(conv_same), 0.5, 2),
        (conv_title("average pooling 2x2 of 'same'", n, 2, 0, 2), avg_pool(conv_same), 0.5, 2),
    ]
    figure = Figure(figsize=(12, 7.6))
    axes = figure.subplots(2, 4)
    axes[0, 0].imshow(digit.numpy(), cmap="gray_r", extent=(-0.5, n - 0.5, n - 0.5, -0.5))
    axes[0, 0].set_title(f"input digit\n{n} x {n}", fontsize=9)
    axes[0, 1].imshow(kernel.numpy(), cmap="RdBu_r", vmin=-2, vmax=2)
    for i in range(k):
        for j in range(k):
            axes[0, 1].text(j, i, f"{kernel[i, j]:g}", ha="center", va="center", fontsize=12)
    axes[0, 1].set_title(f"kernel {k} x {k} (vertical edges)", fontsize=9)
    scale = conv_same.abs().max().item()
    places = [axes[0, 2], axes[0, 3], axes[1, 1], axes[1, 2], axes[1, 3]]
    for ax, (title, out, start, step) in zip(places, panels, strict=True):
        size = out.shape[-1]
        low, high = start - step / 2, start + (size - 1) * step + step / 2
        ax.imshow(
            out[0, 0].numpy(), cmap="RdBu_r", vmin=-scale, vmax=scale, extent=(low, high, high, low)
        )
        ax.add_patch(Rectangle((low, low), high - low, high - low, fill=False, linestyle="--"))
        ax.set_title(f"{title} → {size} x {size}", fontsize=9)
    axes[1, 0].axis("off")
    axes[1, 0].text(0.5, 0.5, "red: the kernel's positive response\n(more ink to the right),"
                    "\nblue: negative; one colour scale.\nDashed: each output's extent\n"
                    "over the 28 x 28 input", ha="center", va="center", fontsize=9,
                    transform=axes[1, 0].transAxes)  # fmt: skip
    for ax in [axes[0, 0], *places]:  # every map over the input's area: sizes compare
        ax.set(xlim=(-0.5, n - 0.5), ylim=(n - 0.5, -0.5))
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    figure.suptitle("IV A-C: convolution, padding, stride and pooling on a test digit")
    return figure


@torch.no_grad()
def first_block_maps(model, x: Tensor) -> tuple[Tensor, list[str]]:
    """The maps (C, H, W) of a CNN's first block before its pooling, for one model input x
    (1, H, W), and the names of the layers they went through."""
    h, names = x[None].to(next(model.parameters()).device), []
    for layer in model.features[0]:
        if isinstance(layer, nn.MaxPool2d | nn.AvgPool2d | nn.Dropout2d):
            break
        h, names = layer(h), [*names, type(layer).__name__]
    return h[0].cpu(), names


@torch.no_grad()
def feature_maps(model, x: Tensor, max_maps: int = 16, columns: int = 8) -> Figure:
    """Course IV E: a trained CNN's first conv layer on one model input x (1, H, W), such as
    `data.test_set.x[0]`: its filters (top of each pair) and the maps they give after the first
    block's convolution and activation (below), the `max_maps` with the largest spread, each on
    its own scale."""
    model.eval()
    conv = model.features[0][0]
    maps, names = first_block_maps(model, x)
    order = maps.std(dim=(1, 2)).argsort(descending=True)[:max_maps]
    probabilities = model(x[None].to(conv.weight.device))[0].softmax(-1).cpu()
    columns = min(columns, len(order))
    rows = math.ceil(len(order) / columns)
    figure = Figure(figsize=(1.4 * columns + 3, 2.7 * rows + 0.8))
    grid = figure.add_gridspec(2 * rows, columns + 2)  # the digit over two columns, then pairs
    digit_ax = figure.add_subplot(grid[:, :2])
    digit_ax.imshow(x[0].cpu().numpy(), cmap="gray_r")
    digit_ax.set_title(f"input\npredicted {int(probabilities.argmax())} "
                       f"(p = {probabilities.max():.2f})", fontsize=9)  # fmt: skip
    axes = [[figure.add_subplot(grid[r, c + 2]) for c in range(columns)] for r in range(2 * rows)]
    for ax in [digit_ax, *(ax for row in axes for ax in row)]:
        ax.axis("off")
    for slot, channel in enumerate(order.tolist()):
        row, col = 2 * (slot // columns), slot % columns
        weights = conv.weight[channel, 0].cpu()
        bound = weights.abs().max().item()
        axes[row][col].imshow(weights.numpy(), cmap="RdBu_r", vmin=-bound, vmax=bound)
        axes[row][col].set_title(f"filter {channel}", fontsize=8)
        axes[row + 1][col].imshow(maps[channel].numpy(), cmap="magma")
    k = conv.kernel_size[0]
    figure.suptitle(f"IV E: the first layer's {k}x{k} filters (red +, blue −) and their maps "
                    f"after {' → '.join(names)}\n({len(order)} of {len(maps)}: those with the "
                    "largest spread; bright = strong response)")  # fmt: skip
    return figure


def hidden_state_gradients(rnn: ScratchRNN, x: Tensor, readout: nn.Linear, y: Tensor) -> Tensor:
    """||dL/dH_t|| for t = 0 (the initial state) .. T, where L is the cross-entropy of a dense
    readout of H_T: the scratch cell stepped once per time step, autograd for the gradient."""
    h = x.new_zeros(1, len(x), rnn.hidden_size, requires_grad=True)
    states = [h]
    for t in range(x.shape[1]):
        _, h = rnn(x[:, t : t + 1], h)  # H_t from X_t and H_{t-1}
        states.append(h)
    loss = F.cross_entropy(readout(h[0]), y)
    grads = torch.autograd.grad(loss, states)
    return torch.stack([g.norm() for g in grads])


def scaled_recurrence(rnn: ScratchRNN, radius: float, generator: torch.Generator) -> ScratchRNN:
    """W_hh drawn N(0, 1/H), then scaled so that its spectral radius is exactly `radius`."""
    hidden = rnn.hidden_size
    weights = torch.randn(hidden, hidden, generator=generator, dtype=torch.float64)
    weights *= radius / torch.linalg.eigvals(weights).abs().max()
    with torch.no_grad():
        rnn.W_hh[0].copy_(weights)
    return rnn


def rnn_gradient_norms(
    radii=(0.5, 1.0, 3.0), steps: int = 28, hidden_size: int = 128, input_size: int = 28,
    seed: int = 0,
) -> Figure:  # fmt: skip
    """Course V A-B: how much of the last step's loss gradient reaches each earlier hidden state
    of a tanh RNN (`ScratchRNN`, float64, random inputs), for recurrent weights of each spectral
    radius and for the cell's default initialization. Small weights: it vanishes geometrically;
    large: it explodes (log scale)."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(8, steps, input_size, generator=generator, dtype=torch.float64)
    y = torch.randint(0, 10, (8,), generator=generator)
    torch.manual_seed(seed)
    readout = nn.Linear(hidden_size, 10).double()
    default = ScratchRNN(input_size, hidden_size).double()
    cells = {
        f"ρ(W_hh) = {radius:g}": scaled_recurrence(
            ScratchRNN(input_size, hidden_size).double(), radius, generator
        )
        for radius in radii
    }
    default_radius = torch.linalg.eigvals(default.W_hh[0].detach()).abs().max().item()
    cells[f"default init (ρ = {default_radius:.2f})"] = default
    figure = Figure(figsize=(7.5, 4.4))
    ax = figure.subplots()
    for label, rnn in cells.items():
        style = "--" if label.startswith("default") else "-"
        norms = hidden_state_gradients(rnn, x, readout, y).numpy()
        ax.plot(range(steps + 1), norms, style, marker=".", label=label)
    ax.set_yscale("log")
    ax.set(xlabel="time step t (H_0 = initial state)", ylabel="‖∂L/∂H_t‖ (L: the last step's loss)",
           title=f"V A-B: the gradient across {steps} steps of a tanh RNN\n"
                 "small recurrent weights: it vanishes; large: it explodes")  # fmt: skip
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return figure
