"""The course's explanatory pictures (dl101.course.illustrations): each figure plots the numbers
the package's own code computes, read back from the figure's artists."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dl101.course import illustrations as il
from dl101.data.tables import TableDataModule
from dl101.models.backprop import rnn_backward_through_time
from dl101.models.cnn import CNN
from dl101.models.linear_regression import closed_form_fit
from dl101.models.rnn import ScratchRNN
from dl101.models.softmax_regression import SoftmaxRegression
from dl101.notebook import build
from tests.test_report import assert_sane_png


def line(ax, label: str) -> tuple[np.ndarray, np.ndarray]:
    """The (x, y) data of the line whose legend label starts with `label`."""
    (found,) = [ln for ln in ax.get_lines() if ln.get_label().startswith(label)]
    return np.asarray(found.get_xdata(), dtype=float), np.asarray(found.get_ydata(), dtype=float)


def test_house_prices_draws_the_least_squares_line_the_courses_line_and_residuals(tmp_path):
    data = TableDataModule([[1500.0], [1800.0], [2300.0], [2600.0]], [310.0, 360.0, 350.0, 420.0],
                           task="regression")  # fmt: skip
    figure = il.house_prices(data)
    ax = figure.axes[0]
    w, b = closed_form_fit(data.x.double(), data.y.double())
    xs, ys = line(ax, "least squares")
    np.testing.assert_allclose(ys, w.item() * xs + b.item())
    xs, ys = line(ax, "the course's line")
    np.testing.assert_allclose(ys, 0.18 * xs)  # y = W x: 379, 288, 432 for the course's houses
    residuals = [np.asarray(c.get_segments()) for c in ax.collections]  # one bar per house
    fitted = (w * data.x[:, 0].double() + b).numpy()
    bars = residuals[1]  # the least-squares line's bars: from its fit to each price
    np.testing.assert_allclose(bars[:, 0, 1], fitted, rtol=1e-6)
    np.testing.assert_allclose(bars[:, 1, 1], data.y.numpy(), rtol=1e-6)
    assert_sane_png(il.save(figure, tmp_path / "houses.png"))


def test_house_prices_of_the_course_name_its_fit_and_its_price_for_2000_sq_ft():
    _, data = build(["experiment=course_linear_regression"])
    labels = [ln.get_label() for ln in il.house_prices(data).axes[0].get_lines()]
    assert any("0.05949 × area + 245.5" in lbl and "2,000 sq ft → 364.5" in lbl for lbl in labels)
    assert any("0.18 × area" in lbl and "2,000 sq ft → 360.0" in lbl for lbl in labels)


@pytest.fixture(scope="module")
def houses_fit():
    """The course's ten houses and a softmax regression fitted as its experiment fits it."""
    model, data = build(["experiment=course_softmax_houses"])
    return il.fit_full_batch(model, data, steps=300), data


def test_softmax_regions_boundary_is_where_the_model_gives_one_half(houses_fit):
    model, data = houses_fit
    figure = il.softmax_regions(model, data)
    ax = figure.axes[0]
    boundary = ax.collections[1]  # contour(..., levels=[0.5]) after the shading
    vertices = torch.tensor(np.concatenate([p.vertices for p in boundary.get_paths()]),
                            dtype=torch.float32)  # fmt: skip
    assert len(vertices) > 10
    with torch.no_grad():
        good = model(data.transform(vertices)).softmax(-1)[:, 1]
    assert (good - 0.5).abs().max() < 0.01


def test_softmax_regions_circles_the_houses_the_model_gets_wrong(houses_fit):
    model, data = houses_fit
    ax = il.softmax_regions(model, data).axes[0]
    with torch.no_grad():
        wrong = model(data.transform(data.x)).argmax(-1) != data.y
    circled = [c for c in ax.collections if c.get_label() == "misclassified"][0].get_offsets()
    np.testing.assert_allclose(np.asarray(circled), data.x[wrong].numpy())
    assert len(circled) == 3 and "training accuracy 0.7" in ax.get_title()  # the course's 7 of 10


def test_fit_full_batch_trains_with_the_models_own_optimizer():
    torch.manual_seed(0)
    features = torch.cat([torch.randn(20, 2) - 2, torch.randn(20, 2) + 2]).tolist()
    data = TableDataModule(features, [0] * 20 + [1] * 20, task="classification")
    model = SoftmaxRegression([2], 2, optimizer=partial(torch.optim.SGD, lr=0.1))
    data.setup("fit")
    before = F.cross_entropy(model(data.train_set.x), data.train_set.y).item()
    il.fit_full_batch(model, data, steps=50)
    after = F.cross_entropy(model(data.train_set.x), data.train_set.y).item()
    assert after < before / 3 and not model.training


def test_polynomial_fits_are_numpys_least_squares_and_the_validation_error_is_a_u():
    figure = il.polynomial_fits(shown=(1, 3), max_degree=9)
    fit_ax, error_ax = figure.axes
    x, y, train, val = (t.numpy() for t in il.sin_points(0))
    for degree in (1, 3):
        xs, ys = line(fit_ax, f"degree {degree}")
        np.testing.assert_allclose(ys, np.polyval(np.polyfit(x[train], y[train], degree), xs),
                                   atol=1e-8)  # fmt: skip
    _, train_error = line(error_ax, "training")
    _, val_error = line(error_ax, "validation")
    for degree in (1, 2, 3):  # the errors plotted are the fits' mean squared errors
        coefficients = np.polyfit(x[train], y[train], degree)
        for errors, idx in ((train_error, train), (val_error, val)):
            mse = np.mean((np.polyval(coefficients, x[idx]) - y[idx]) ** 2)
            np.testing.assert_allclose(errors[degree - 1], mse, rtol=1e-8)
    assert all(np.diff(train_error) <= 1e-12)  # more capacity never fits the training set worse
    best = int(np.argmin(val_error))
    assert 0 < best < len(val_error) - 1  # lowest in the middle: under- then overfitting


def test_activation_derivatives_are_the_analytic_ones_and_sigmoids_is_at_most_a_quarter():
    value_ax, slope_ax = il.activations().axes
    z, s = line(value_ax, "sigmoid")
    z = torch.tensor(z)
    np.testing.assert_allclose(s, torch.sigmoid(z).numpy(), rtol=1e-6)
    expected = {
        "sigmoid'": torch.sigmoid(z) * (1 - torch.sigmoid(z)),
        "tanh'": 1 - torch.tanh(z) ** 2,
        "relu'": (z > 0).double(),
    }
    for name, derivative in expected.items():
        np.testing.assert_allclose(line(slope_ax, name)[1], derivative.numpy(), atol=1e-6)
    assert abs(line(slope_ax, "sigmoid'")[1].max() - 0.25) < 1e-6
    marked = [ln for ln in slope_ax.get_lines() if list(ln.get_ydata()) == [0.25, 0.25]]
    assert marked  # the 1/4 bound drawn


def images(figure) -> list[np.ndarray]:
    return [np.asarray(im.get_array()) for ax in figure.axes for im in ax.get_images()]


def test_convolution_steps_show_each_output_with_its_size():
    torch.manual_seed(0)
    digit = torch.rand(28, 28)
    figure = il.convolution_steps(digit)
    shown = images(figure)
    x, k = digit[None, None], il.EDGE_KERNEL[None, None]
    same = F.conv2d(x, k, padding=1)
    expected = [digit, il.EDGE_KERNEL, same, F.conv2d(x, k), F.conv2d(x, k, padding=1, stride=2),
                F.max_pool2d(same, 2), F.avg_pool2d(same, 2)]  # fmt: skip
    assert [a.shape for a in shown] == [(28, 28), (3, 3), (28, 28), (26, 26), (14, 14),
                                        (14, 14), (14, 14)]  # fmt: skip
    for image, tensor in zip(shown, expected, strict=True):
        np.testing.assert_allclose(image, tensor.squeeze().numpy(), rtol=1e-5, atol=1e-6)
    titles = " | ".join(ax.get_title() for ax in figure.axes)
    for size in ("28 x 28", "26 x 26", "14 x 14"):
        assert f"→ {size}" in titles or size in titles
    assert "⌊(28 + 2·0 − 3) / 1⌋ + 1 = 26" in titles


def test_feature_maps_show_the_first_blocks_maps_before_pooling_with_their_filters():
    torch.manual_seed(0)
    block = {"out_channels": 20, "kernel_size": 5, "padding": "same", "batch_norm": True,
             "pool": {"type": "max", "kernel_size": 2}}  # fmt: skip
    model = CNN([1, 28, 28], 10, [block], optimizer=partial(torch.optim.SGD, lr=0.1))
    with torch.no_grad():  # batch-norm statistics that are not the identity
        model.features[0][1].running_mean.uniform_(-1, 1)
        model.features[0][1].running_var.uniform_(0.5, 2)
    x = torch.randn(1, 28, 28)
    figure = il.feature_maps(model, x, max_maps=16)
    shown = images(figure)
    conv, norm = model.features[0][0], model.features[0][1]
    with torch.no_grad():  # eval mode: batch norm by its running statistics
        normed = F.batch_norm(conv(x[None]), norm.running_mean, norm.running_var, norm.weight,
                              norm.bias, training=False, eps=norm.eps)  # fmt: skip
        maps = torch.relu(normed)[0]
    channels = maps.std(dim=(1, 2)).argsort(descending=True)[:16]
    assert len(shown) == 1 + 2 * 16  # the digit, then rows of 8 filters over their 8 maps
    np.testing.assert_allclose(shown[0], x[0].numpy())
    for i, channel in enumerate(channels):
        at = 1 + 16 * (i // 8) + i % 8
        filter_image, map_image = shown[at], shown[at + 8]
        np.testing.assert_allclose(filter_image, conv.weight[channel, 0].detach().numpy())
        np.testing.assert_allclose(map_image, maps[channel].numpy(), rtol=1e-5, atol=1e-6)
    assert "Conv2d → BatchNorm2d → ReLU" in figure._suptitle.get_text()


def test_hidden_state_gradients_equal_backpropagation_through_time_by_hand():
    torch.manual_seed(0)
    rnn, readout = ScratchRNN(3, 6).double(), torch.nn.Linear(6, 10).double()
    x, y = torch.randn(2, 7, 3, dtype=torch.float64), torch.tensor([1, 4])
    norms = il.hidden_state_gradients(rnn, x, readout, y)
    states, _ = rnn(x)  # H_1 .. H_T
    last = states[:, -1].detach().requires_grad_()
    (at_last,) = torch.autograd.grad(F.cross_entropy(readout(last), y), last)
    weights = [p.detach() for p in (rnn.W_xh[0], rnn.W_hh[0], rnn.b_h[0])]
    h = torch.cat([torch.zeros(2, 1, 6, dtype=torch.float64), states.detach()], dim=1)
    assert len(norms) == 8  # H_0 .. H_7
    torch.testing.assert_close(norms[7], at_last.norm())
    for t in range(7):  # dL/dH_t: back through the steps after t, from H_t as initial state
        upstream = torch.zeros(2, 7 - t, 6, dtype=torch.float64)
        upstream[:, -1] = at_last
        *_, d_state = rnn_backward_through_time(x[:, t:], h[:, t], *weights, upstream)
        torch.testing.assert_close(norms[t], d_state.norm())


def test_rnn_gradient_vanishes_for_small_recurrent_weights_and_explodes_for_large():
    figure = il.rnn_gradient_norms(radii=(0.5, 3.0), steps=20, hidden_size=32, input_size=4)
    ax = figure.axes[0]
    _, small = line(ax, "ρ(W_hh) = 0.5")
    _, large = line(ax, "ρ(W_hh) = 3")
    assert len(small) == len(large) == 21  # H_0 .. H_20
    assert small[0] < 1e-4 * small[-1] and all(np.diff(small) > 0)  # fades going back in time
    assert large[0] > 1e2 * large[-1]  # grows going back in time
    assert ax.get_yscale() == "log"


def test_scaled_recurrence_has_the_spectral_radius_asked_for():
    rnn = il.scaled_recurrence(ScratchRNN(4, 16).double(), 1.5, torch.Generator().manual_seed(1))
    radius = torch.linalg.eigvals(rnn.W_hh[0].detach()).abs().max()
    torch.testing.assert_close(radius, torch.tensor(1.5, dtype=torch.float64))
