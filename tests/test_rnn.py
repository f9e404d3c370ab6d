"""Course part V: the scratch RNN cell against nn.RNN, BPTT by hand, the MNIST row reader."""

from __future__ import annotations

from functools import partial

import pytest
import torch
from torch import nn

from dl101.models import RNNClassifier
from dl101.models.backprop import rnn_backward_through_time
from dl101.models.rnn import ScratchRNN
from dl101.run.training import build, train
from tests.helpers import QUIET, compose_config


@pytest.mark.parametrize("num_layers", [1, 2])
def test_scratch_cell_equals_nn_rnn_outputs_and_gradients(num_layers):
    torch.manual_seed(0)
    library = nn.RNN(5, 7, num_layers, batch_first=True)
    scratch = ScratchRNN(5, 7, num_layers).copy_from(library)
    x = torch.randn(3, 6, 5, requires_grad=True)
    h0 = torch.randn(num_layers, 3, 7)
    out_lib, h_lib = library(x, h0)
    out_scr, h_scr = scratch(x, h0)
    assert torch.allclose(out_scr, out_lib, atol=1e-5) and torch.allclose(h_scr, h_lib, atol=1e-5)
    weights = torch.randn_like(out_lib)
    grad_lib = torch.autograd.grad((out_lib * weights).sum(), [x, library.weight_hh_l0])
    grad_scr = torch.autograd.grad((out_scr * weights).sum(), [x, scratch.W_hh[0]])
    assert torch.allclose(grad_scr[0], grad_lib[0], atol=1e-5)
    assert torch.allclose(grad_scr[1], grad_lib[1].T, atol=1e-5)


def test_backprop_through_time_by_hand_equals_autograd():
    torch.manual_seed(1)
    cell = ScratchRNN(4, 6).double()
    x, h0 = torch.randn(2, 9, 4, dtype=torch.float64), torch.randn(1, 2, 6, dtype=torch.float64)
    h0.requires_grad_(True)
    outputs, _ = cell(x, h0)
    grad_outputs = torch.randn_like(outputs)
    (outputs * grad_outputs).sum().backward()
    by_hand = rnn_backward_through_time(
        x, h0[0].detach(), cell.W_xh[0].detach(), cell.W_hh[0].detach(), cell.b_h[0].detach(),
        grad_outputs,
    )  # fmt: skip
    expected = (cell.W_xh[0].grad, cell.W_hh[0].grad, cell.b_h[0].grad, h0.grad[0])
    for mine, autograd in zip(by_hand, expected, strict=True):
        assert torch.allclose(mine, autograd, atol=1e-10)


def classifier(**kwargs) -> RNNClassifier:
    return RNNClassifier([1, 28, 28], 10, **kwargs, optimizer=partial(torch.optim.Adam, lr=1e-3))


@pytest.mark.parametrize("cell", ["scratch", "rnn", "gru", "lstm"])
@pytest.mark.parametrize("init", ["default", "tf1"])
def test_every_cell_classifies_rows_of_pixels(cell, init):
    model = classifier(cell=cell, hidden_size=16, init=init)
    assert model(torch.rand(5, 1, 28, 28)).shape == (5, 10)


def test_bidirectional_and_stacked_library_cells():
    model = classifier(cell="gru", hidden_size=8, num_layers=2, bidirectional=True)
    assert model.dense.in_features == 16 and model(torch.rand(2, 1, 28, 28)).shape == (2, 10)
    with pytest.raises(ValueError, match="bidirectional"):
        classifier(cell="scratch", bidirectional=True)
    with pytest.raises(ValueError, match="model.cell='transformer'"):
        classifier(cell="transformer")


def test_tf1_init_is_one_glorot_kernel_over_x_and_h_with_zero_biases():
    torch.manual_seed(0)
    model = classifier(cell="rnn", hidden_size=128, init="tf1")
    kernel = torch.cat([model.rnn.weight_ih_l0.T, model.rnn.weight_hh_l0.T])  # (28 + 128, 128)
    limit = (6 / (28 + 128 + 128)) ** 0.5
    assert kernel.abs().max() <= limit and kernel.abs().max() > 0.95 * limit
    assert (
        torch.count_nonzero(model.rnn.bias_ih_l0) == torch.count_nonzero(model.rnn.bias_hh_l0) == 0
    )
    assert torch.count_nonzero(model.dense.bias) == 0


@pytest.mark.parametrize("cell", ["scratch", "rnn", "lstm"])
def test_the_classifier_reads_an_image_row_by_row(cell):
    """On an image that is not symmetric, the model's logits equal a library cell run by hand
    over the rows as time steps (a model reading columns would differ)."""
    torch.manual_seed(0)
    model = classifier(cell=cell, hidden_size=12)
    image = torch.rand(2, 1, 28, 28)
    assert not torch.allclose(image, image.transpose(2, 3))
    library = (nn.LSTM if cell == "lstm" else nn.RNN)(28, 12, batch_first=True)
    if cell == "scratch":  # the same weights in nn.RNN's layout
        rnn = model.rnn
        weights = {"weight_ih_l0": rnn.W_xh[0].T, "weight_hh_l0": rnn.W_hh[0].T,
                   "bias_ih_l0": rnn.b_h[0], "bias_hh_l0": torch.zeros(12)}  # fmt: skip
        library.load_state_dict(weights)
    else:
        library.load_state_dict(model.rnn.state_dict())
    h = torch.zeros(1, 2, 12)
    state = (h, torch.zeros(1, 2, 12)) if cell == "lstm" else h
    for row in range(28):  # time step t reads row t: 28 pixels, left to right
        _, state = library(image[:, :, row], state)
    last = state[0] if cell == "lstm" else state
    expected = model.dense(last[-1])
    assert torch.allclose(model(image), expected, atol=1e-5)


def test_course_rnn_trains_and_draws_its_prediction_grid(mnist_dir, tmp_path):
    cfg = compose_config(tmp_path, ["experiment=course_rnn", "debug=limit", *QUIET])
    assert build(cfg)[0].rnn.__class__ is ScratchRNN
    metrics = train(cfg)
    # 10 batches reach about 0.44; always answering the most frequent digit scores 0.114
    assert metrics["test/acc"] > 0.3
    assert (tmp_path / "figures" / "test_predictions.png").is_file()
