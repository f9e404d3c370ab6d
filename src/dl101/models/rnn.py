"""Recurrent networks (course part V): the course's RNN cell written out, the library cells beside
it, an MNIST classifier that reads an image row by row, and a language model."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torchmetrics.text import Perplexity

from dl101.errors import ConfigError
from dl101.models.base import Classifier, Model

CELLS = ("scratch", "rnn", "gru", "lstm")
INITS = ("default", "tf1")


class ScratchRNN(nn.Module):
    """The course's equations, one time step at a time:

        H_t = tanh(X_t W_xh + H_{t-1} W_hh + b_h)

    Stacked `num_layers` deep (each layer reads the hidden states of the one below). Same
    interface as `nn.RNN(batch_first=True)`: returns all top-layer states and the last states.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1):
        super().__init__()
        self.hidden_size, self.num_layers = hidden_size, num_layers
        sizes = [input_size] + [hidden_size] * (num_layers - 1)
        bound = 1 / math.sqrt(hidden_size)  # nn.RNN's default range
        self.W_xh = nn.ParameterList(
            [nn.Parameter(torch.empty(n, hidden_size).uniform_(-bound, bound)) for n in sizes]
        )
        self.W_hh = nn.ParameterList(
            [
                nn.Parameter(torch.empty(hidden_size, hidden_size).uniform_(-bound, bound))
                for _ in sizes
            ]
        )
        self.b_h = nn.ParameterList(
            [nn.Parameter(torch.empty(hidden_size).uniform_(-bound, bound)) for _ in sizes]
        )

    def forward(self, x: Tensor, h0: Tensor | None = None) -> tuple[Tensor, Tensor]:
        batch, steps, _ = x.shape  # (B, T, I)
        if h0 is None:
            h0 = x.new_zeros(self.num_layers, batch, self.hidden_size)
        last = []
        for layer in range(self.num_layers):
            h = h0[layer]  # (B, H)
            outputs = []
            for t in range(steps):
                h = torch.tanh(x[:, t] @ self.W_xh[layer] + h @ self.W_hh[layer] + self.b_h[layer])
                outputs.append(h)
            x = torch.stack(outputs, dim=1)  # (B, T, H): the next layer's input
            last.append(h)
        return x, torch.stack(last)  # (B, T, H), (L, B, H)

    @torch.no_grad()
    def copy_from(self, rnn: nn.RNN) -> ScratchRNN:
        """Take the weights of a tanh `nn.RNN`: W_xh = W_ih^T, W_hh = W_hh^T, b_h = b_ih + b_hh."""
        for layer in range(self.num_layers):
            self.W_xh[layer].copy_(getattr(rnn, f"weight_ih_l{layer}").T)
            self.W_hh[layer].copy_(getattr(rnn, f"weight_hh_l{layer}").T)
            self.b_h[layer].copy_(
                getattr(rnn, f"bias_ih_l{layer}") + getattr(rnn, f"bias_hh_l{layer}")
            )
        return self


def make_recurrent(
    cell: str,
    input_size: int,
    hidden_size: int,
    num_layers: int = 1,
    bidirectional: bool = False,
    dropout: float = 0.0,
) -> nn.Module:
    if cell not in CELLS:
        raise ConfigError(f"model.cell={cell!r}: choose one of {list(CELLS)}")
    if cell == "scratch":
        if bidirectional:
            raise ConfigError(
                "model.bidirectional=true needs a library cell (rnn, gru, lstm), not scratch"
            )
        return ScratchRNN(input_size, hidden_size, num_layers)
    library = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[cell]
    return library(
        input_size, hidden_size, num_layers, batch_first=True, bidirectional=bidirectional,
        dropout=dropout if num_layers > 1 else 0.0,
    )  # fmt: skip


@torch.no_grad()
def tf1_init(recurrent: nn.Module, dense: nn.Linear) -> None:
    """TensorFlow 1's defaults, which the course's code ran with: for each layer one glorot-uniform
    kernel over the stacked [x; h] inputs (split into the input and hidden weights), zero biases;
    the dense layer glorot-uniform with a zero bias."""
    for name, weight in recurrent.named_parameters():
        if "bias" in name or name.startswith("b_h"):
            weight.zero_()
    if isinstance(recurrent, ScratchRNN):
        pairs = list(zip(recurrent.W_xh, recurrent.W_hh, strict=True))
        transpose = False
    else:
        suffixes = [
            n.removeprefix("weight_ih")
            for n, _ in recurrent.named_parameters()
            if n.startswith("weight_ih")
        ]
        pairs = [
            (getattr(recurrent, f"weight_ih{s}"), getattr(recurrent, f"weight_hh{s}"))
            for s in suffixes
        ]
        transpose = True  # library weights are stored (out, in)
    for w_x, w_h in pairs:
        x_in, h_in = (w_x.shape[1], w_h.shape[1]) if transpose else (w_x.shape[0], w_h.shape[0])
        out = w_x.shape[0] if transpose else w_x.shape[1]
        kernel = torch.empty(x_in + h_in, out)
        nn.init.xavier_uniform_(kernel)  # fan_in = x_in + h_in, fan_out = out
        w_x.copy_(kernel[:x_in].T if transpose else kernel[:x_in])
        w_h.copy_(kernel[x_in:].T if transpose else kernel[x_in:])
    nn.init.xavier_uniform_(dense.weight)
    nn.init.zeros_(dense.bias)


class RNNClassifier(Classifier):
    """Reads a (1, 28, 28) image as 28 time steps of 28 pixels and classifies it from the last
    hidden state through a dense layer, as the course's appendix does."""

    def __init__(
        self,
        input_shape: list[int],
        num_classes: int,
        cell: str = "scratch",
        hidden_size: int = 128,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        init: str = "default",
        **classifier_args,
    ):
        super().__init__(num_classes=num_classes, **classifier_args)
        if init not in INITS:
            raise ConfigError(f"model.init={init!r}: choose one of {list(INITS)}")
        _, rows, cols = input_shape
        self.rnn = make_recurrent(cell, cols, hidden_size, num_layers, bidirectional, dropout)
        self.dense = nn.Linear(hidden_size * (2 if bidirectional else 1), num_classes)
        self.bidirectional = bidirectional
        if init == "tf1":
            tf1_init(self.rnn, self.dense)

    def forward(self, x: Tensor) -> Tensor:
        _, last = self.rnn(x.squeeze(1))  # (B, 28 rows = steps, 28 columns = inputs)
        h = last[0] if isinstance(last, tuple) else last  # LSTM returns (h, c); h: (L * D, B, H)
        top = torch.cat([h[-2], h[-1]], dim=1) if self.bidirectional else h[-1]  # (B, D * H)
        return self.dense(top)


def perplexity(logits: Tensor, targets: Tensor) -> Tensor:
    """The course's PPL = exp(-1/n sum_t log p(x_t | x_<t)) over all n tokens: (..., V) logits,
    (...) target ids. Epoch values (val/ppl, test/ppl) aggregate the same over every batch."""
    log_p = logits.log_softmax(-1).gather(-1, targets.unsqueeze(-1))  # log p(x_t | x_<t)
    return torch.exp(-log_p.mean())


def detach_state(state):
    """Cut the graph at a batch boundary (truncated BPTT); LSTM states are (h, c) pairs."""
    if state is None:
        return None
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


class RNNLanguageModel(Model):
    """Predicts the next token: (B, T) token ids -> (B, T, V) logits, with the recurrent state.

    Perplexity = exp(mean cross-entropy per token): `train/ppl` per step, `val/ppl` and
    `test/ppl` over all tokens of the held-out text (torchmetrics' Perplexity). The state is
    carried across batches of the sequential scheme (and always during evaluation, which reads
    the held-out text as contiguous streams) and detached between batches.
    """

    monitor = ("val/ppl", "min")
    directions = {**Model.directions, "ppl": "min"}
    judged_by = ("val/ppl", "test/ppl", "val/loss", "test/loss", "train/loss_epoch")
    charts = {"perplexity": ["Multiline", [r"^(train|val)/ppl$"]], **Model.charts}
    not_stacked_because = (
        "a language model: its recurrent state carries from one batch to the next (truncated "
        "backpropagation through time), which a stacked group does not carry per member"
    )

    def __init__(
        self,
        vocab_size: int,
        cell: str = "gru",
        hidden_size: int = 256,
        num_layers: int = 1,
        embedding_dim: int = 0,
        dropout: float = 0.0,
        **model_args,
    ):
        super().__init__(**model_args)
        self.vocab_size = vocab_size
        self.embedding = nn.Embedding(vocab_size, embedding_dim) if embedding_dim > 0 else None
        self.rnn = make_recurrent(
            cell, embedding_dim or vocab_size, hidden_size, num_layers, dropout=dropout
        )
        self.head = nn.Linear(hidden_size, vocab_size)
        self.val_ppl, self.test_ppl = Perplexity(), Perplexity()
        self.state = None

    def forward(self, tokens: Tensor, state=None):
        if self.embedding is not None:
            x = self.embedding(tokens)  # (B, T, E)
        else:
            x = nn.functional.one_hot(tokens, self.vocab_size).float()  # (B, T, V)
        outputs, state = self.rnn(x, state)  # (B, T, H)
        return self.head(outputs), state  # (B, T, V)

    def _step(self, batch, carry: bool):
        x, y = batch
        logits, state = self(x, self.state if carry else None)
        self.state = detach_state(state) if carry else None
        loss = nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten())
        return logits, y, loss

    def on_train_epoch_start(self) -> None:
        self.state = None

    def training_step(self, batch, batch_idx):
        carry = getattr(self.trainer.datamodule, "sequential", False)
        _, _, loss = self._step(batch, carry)
        self.log_training(loss, **{"train/ppl": loss.exp()})
        return loss

    def on_validation_epoch_start(self) -> None:
        self.saved_train_state, self.state = self.state, None

    def on_validation_epoch_end(self) -> None:
        self.state = self.saved_train_state

    def validation_step(self, batch, batch_idx):
        logits, y, loss = self._step(batch, carry=True)
        self.val_ppl(logits, y)
        self.log("val/loss", loss)
        self.log("val/ppl", self.val_ppl, prog_bar=True)

    def on_test_epoch_start(self) -> None:
        self.state = None

    def test_step(self, batch, batch_idx):
        logits, y, loss = self._step(batch, carry=True)
        self.test_ppl(logits, y)
        self.log("test/loss", loss)
        self.log("test/ppl", self.test_ppl)
