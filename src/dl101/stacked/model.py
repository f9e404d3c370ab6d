"""N classifiers of one architecture as one LightningModule: their parameters stacked with
`torch.stack` under one template's names (torch.func's `stack_module_state`, which needs
identical modules), one forward of all of them with `vmap(functional_call)`
(`randomness="different"`: each member its own dropout masks), each member's loss and accuracy
kept apart, its scalars logged under `m<i>/` for its own run (`MemberLoggers`).

A member's gradients come from its own loss alone: the loss minimised is the sum of the members',
and no operation mixes two members. A member whose loss becomes NaN or infinite stops there
(`on_member_failed`) while the others go on.

Members may differ in their dropout rates, and in whether a layer has dropout at all: the
template is the member with the most dropout layers, each made a `MemberDropout`
(`stacked_template`) that reads every member's own rate (0 where a member has no dropout layer:
the identity). Its linear layers become `MemberLinear`: evaluated on one batch that all members
read, a layer computes every member's outputs in one matrix product (vmap alone would run one
small product per member).
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
import torch.nn.functional as F
from pytorch_lightning import LightningModule
from torch import Tensor, nn
from torch.func import functional_call, vmap

from dl101.internals import log_as_module, logged_step

DROPOUTS = (nn.Dropout, nn.Dropout2d)


@torch.library.custom_op("dl101::member_linear", mutates_args=())
def member_linear(x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """F.linear; under vmap over members, `batched_member_linear`."""
    return F.linear(x, weight, bias)


def per_member(tensor: Tensor, dim: int | None, members: int) -> Tensor:
    return tensor.expand(members, *tensor.shape) if dim is None else tensor.movedim(dim, 0)


@member_linear.register_vmap
def batched_member_linear(info, in_dims, x, weight, bias):
    """Every member's F.linear at once: for an input all members share, one product with the
    members' weights side by side, the member dimension left next to the last (no copy); for
    each member's own input, one batched product."""
    x_dim, weight_dim, bias_dim = in_dims
    members = info.batch_size
    weight = per_member(weight, weight_dim, members)
    bias = None if bias is None else per_member(bias, bias_dim, members)
    outputs = weight.shape[1]
    if x_dim is None:
        # (members * outputs, batch): the wide side first is MKL's faster order on a CPU (44
        # against 51 ms for 10 course MLPs on 5,000 images); its transpose is the result.
        flat = x.reshape(-1, x.shape[-1])
        wide = weight.flatten(0, 1)
        if bias is None:
            out = wide @ flat.T
        else:
            out = torch.addmm(bias.flatten().unsqueeze(1), wide, flat.T)
        return out.T.view(*x.shape[:-1], members, outputs), x.dim() - 1
    x = x.movedim(x_dim, 0)
    flat = x.reshape(members, -1, x.shape[-1]).transpose(1, 2)
    # (members, outputs, batch): autograd then gives the weights' gradient in their own layout
    # (the other order gives it transposed, copied at every step: a training step of 10 course
    # MLPs 4.2 -> 3.0 ms).
    out = weight @ flat if bias is None else torch.baddbmm(bias.unsqueeze(2), weight, flat)
    return out.transpose(1, 2).reshape(*x.shape[:-1], outputs), 0


def mean_losses(logits: Tensor, y: Tensor) -> Tensor:
    """Each member's mean cross-entropy on its own batch, logits (N, B, C), y (N, B): one
    kernel for all members' rows (vmap's rule for it is a decomposition run in Python)."""
    rows = F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="none")
    return rows.view(y.shape).mean(1)


def summed_losses(logits: Tensor, y: Tensor) -> Tensor:
    """Each member's cross-entropy summed over one batch all members read, logits (N, B, C),
    y (B): log-sum-exp less the target's logit (on a CPU, log_softmax over a last dimension
    of 10 classes runs at a quarter of this speed)."""
    targets = logits.gather(-1, y.expand(logits.shape[:-1]).unsqueeze(-1)).squeeze(-1)
    return torch.logsumexp(logits, -1).sum(-1) - targets.sum(-1)


class MemberLinear(nn.Linear):
    """nn.Linear computed by `member_linear`: under vmap, one product for all members (autograd
    differentiates the operations of its vmap rule)."""

    def forward(self, x: Tensor) -> Tensor:
        return member_linear(x, self.weight, self.bias)


class MemberDropout(nn.Module):
    """nn.Dropout (or, `channels`, nn.Dropout2d) at the rate in buffer `rate`: one value per
    member once the buffers are stacked. Zeros with probability `rate`, the rest scaled by
    1 / (1 - rate), as nn.Dropout; the identity in eval mode or at rate 0."""

    def __init__(self, channels: bool):
        super().__init__()
        self.channels = channels
        self.register_buffer("rate", torch.zeros(()))

    def forward(self, x: Tensor) -> Tensor:
        if not self.training:
            return x
        draws = torch.rand_like(x[:, :, :1, :1] if self.channels else x)
        return x * (draws >= self.rate) / (1 - self.rate)


def leaves(model: nn.Module) -> list[nn.Module]:
    return [module for module in model.modules() if not list(module.children())]


def dropout_rates(template: nn.Module, member: nn.Module) -> list[float] | None:
    """The member's rate at each of the template's dropout layers (0 where it has none), when
    its layers are the template's without some of those; else None (it cannot join)."""
    mine, rates, j = leaves(member), [], 0
    for layer in leaves(template):
        if isinstance(layer, DROPOUTS):
            if j < len(mine) and type(mine[j]) is type(layer):
                rates.append(float(mine[j].p))
                j += 1
            else:
                rates.append(0.0)
        elif j < len(mine) and type(mine[j]) is type(layer):
            j += 1
        else:
            return None
    shapes = [tuple(p.shape) for p in template.parameters()]
    return (
        rates
        if j == len(mine) and shapes == [tuple(p.shape) for p in member.parameters()]
        else None
    )


def stacked_template(model: nn.Module) -> nn.Module:
    """A copy of `model` whose dropout layers read a rate per member and whose linear layers
    evaluate all members in one product."""
    template = copy.deepcopy(model)
    for module in list(template.modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, DROPOUTS):
                setattr(module, child_name, MemberDropout(isinstance(child, nn.Dropout2d)))
            elif type(child) is nn.Linear:
                child.__class__ = MemberLinear  # the same parameters, under the same names
    return template


def member_tensors(template: nn.Module, member: nn.Module, rates: list[float]) -> dict:
    """The member's parameters and buffers under the template's names (matched in order), and
    its dropout rates as the template's `rate` buffers."""
    own = dict(zip([n for n, _ in template.named_parameters()], member.parameters(), strict=True))
    names = [n for n, _ in template.named_buffers() if not n.endswith(".rate")]
    own.update(zip(names, member.buffers(), strict=True))
    rate_names = [n for n, m in template.named_modules() if isinstance(m, MemberDropout)]
    own.update({f"{n}.rate": torch.tensor(r) for n, r in zip(rate_names, rates, strict=True)})
    return own


class StackedClassifier(LightningModule):
    """The members' classifiers trained as one model. `template` is one member's model with
    `MemberDropout` layers; `members` their models (initialized as each run's own); `rates` their
    dropout rates; `make_optimizer(params)` the stacked optimizer."""

    def __init__(self, template: nn.Module, members: list[nn.Module], rates: list[list[float]],
                 make_optimizer: Callable):  # fmt: skip
        super().__init__()
        self.size = len(members)
        tensors = [member_tensors(template, m, r) for m, r in zip(members, rates, strict=True)]
        self.param_names = [n for n, _ in template.named_parameters()]
        self.buffer_names = [n for n, _ in template.named_buffers()]
        stacked = {name: torch.stack([t[name].detach() for t in tensors]) for name in tensors[0]}
        self.stacked = nn.ParameterList([nn.Parameter(stacked[n]) for n in self.param_names])
        for i, name in enumerate(self.buffer_names):
            self.register_buffer(f"buffer{i}", stacked[name])
        # The template computes with the members' tensors; it is no submodule (no weights of its
        # own to move, save or optimize).
        object.__setattr__(self, "template", template.to("meta"))
        self.make_optimizer = make_optimizer
        self.register_buffer("alive", torch.ones(self.size, dtype=torch.bool))
        self.register_buffer("val_acc_best", torch.full((self.size,), float("nan")))
        # Datamodule batch hooks (augmentation), each with the members whose batches it takes.
        self.batch_hooks: list[tuple[Callable, list[int]]] = []
        # Set by the group's training: what a member's failure does (its folder marked).
        self.on_member_failed: Callable[[int, float, int, int], None] = lambda *args: None
        self.last_metrics: list[dict[str, float]] = [{} for _ in members]
        self.reset_train_sums()

    def log_members(self, metrics: dict[str, Tensor], step: int | None = None,
                    keep: bool = True, epoch: bool = False) -> None:  # fmt: skip
        """Each live member's values (one per member in each tensor) as `m<i>/<name>`, in one
        call of Lightning's logger connector: at the step, with the epoch, that a separate run's
        `self.log` would have them (with `step` given: that step, no epoch, as callbacks log).
        `keep`: among the member's final metrics (what its trainer's callback_metrics holds);
        `epoch`: with the epoch at a given step (a module's epoch-end scalars)."""
        alive = self.alive.tolist()
        values = {name: value.tolist() for name, value in metrics.items()}
        flat = {}
        for member in range(self.size):
            if alive[member]:
                own = {name: value[member] for name, value in values.items()}
                if keep:
                    self.last_metrics[member].update(own)
                flat.update({f"m{member}/{name}": value for name, value in own.items()})
        if epoch:
            flat["epoch"] = self.trainer.current_epoch
        if flat:
            log_as_module(self.trainer, flat, step=step)

    # Members' tensors, stacked.

    def tensors(self) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        params = dict(zip(self.param_names, self.stacked, strict=True))
        buffers = {n: getattr(self, f"buffer{i}") for i, n in enumerate(self.buffer_names)}
        return params, buffers

    def member_state_dict(self, member: int) -> dict[str, Tensor]:
        """Member `member`'s weights and buffers under the template's names."""
        params, buffers = self.tensors()
        return {
            name: value[member].detach().clone() for name, value in {**params, **buffers}.items()
        }

    def load_member_state_dict(self, member: int, state: dict[str, Tensor]) -> None:
        params, buffers = self.tensors()
        with torch.no_grad():
            for name, value in {**params, **buffers}.items():
                value[member].copy_(state[name])

    def one(self, params, buffers, x: Tensor) -> Tensor:
        return functional_call(self.template, (params, buffers), (x,))

    def logits(self, x: Tensor, shared: bool) -> Tensor:
        """(N, B, C): every member's logits for its own batch x (N, B, ...) or, `shared`, for
        one batch x (B, ...) that all members read (validation, test)."""
        params, buffers = self.tensors()
        forward = vmap(self.one, in_dims=(0, 0, None if shared else 0), randomness="different")
        return forward(params, buffers, x)

    # Training.

    def reset_train_sums(self) -> None:
        self.train_loss_sum = torch.zeros(self.size)
        self.train_correct = torch.zeros(self.size)
        self.train_seen = 0
        self.train_steps = 0

    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        """Each member's training batch through its datamodule's hook (its augmentation): one
        call for the members of one data config, their batches joined (a hook treats each
        example alone, as augmentation does)."""
        if not self.trainer.training or not self.batch_hooks:
            return batch
        x, y = batch  # gathered for this step: its rows can be replaced in place
        for hook, members in self.batch_hooks:
            joined = (x[members].flatten(0, 1), y[members].flatten(0, 1))
            x[members] = hook(joined, dataloader_idx)[0].view(len(members), *x.shape[1:])
        return x, y

    def training_step(self, batch, batch_idx):
        x, y = batch  # (N, B, ...), (N, B): each member's own batch
        self.template.train()
        logits = self.logits(x, shared=False)
        losses = mean_losses(logits, y)
        detached = losses.detach()
        failed = self.alive & ~torch.isfinite(detached)
        if failed.any():
            for member in failed.nonzero().flatten().tolist():
                self.alive[member] = False
                self.on_member_failed(member, float(detached[member]), self.global_step, batch_idx)
            if not self.alive.any():
                self.trainer.should_stop = True
        self.train_loss_sum = self.train_loss_sum.to(detached) + detached
        correct = (logits.detach().argmax(-1) == y).sum(-1)
        self.train_correct = self.train_correct.to(detached) + correct
        self.train_seen += y.shape[1]
        self.train_steps += 1
        if self.is_logging_step():
            self.log_members({"train/loss": detached})
        # Each member's gradient is that of its own loss; a failed member's is zero.
        return torch.where(self.alive, losses, torch.zeros_like(losses)).sum()

    def is_logging_step(self) -> bool:
        trainer = self.trainer
        return bool(trainer.fast_dev_run) or (
            trainer.log_every_n_steps > 0
            and (self.global_step + 1) % trainer.log_every_n_steps == 0
        )

    def on_train_epoch_end(self) -> None:
        if self.train_steps:  # not at an epoch's end replayed on a resume
            self.log_members({
                "train/loss_epoch": self.train_loss_sum / self.train_steps,
                "train/acc": self.train_correct / self.train_seen,
            }, step=logged_step(self.trainer) - 1, epoch=True)  # fmt: skip
        self.reset_train_sums()

    def configure_optimizers(self):
        return self.make_optimizer(list(self.stacked))

    # Validation and test: every member on the same batches.

    def on_validation_epoch_start(self) -> None:
        self.eval_sums: dict[int, list] = {}

    on_test_epoch_start = on_validation_epoch_start

    def accumulate(self, batch, dataloader_idx: int) -> None:
        x, y = batch
        self.template.eval()
        logits = self.logits(x, shared=True)
        loss_sum = summed_losses(logits, y)
        # The members' logits come with the classes strided (members' outputs side by side):
        # argmax over them runs 6x slower than over a copy made contiguous.
        correct = (logits.contiguous().argmax(-1) == y).sum(-1)
        sums = self.eval_sums.setdefault(dataloader_idx, [0.0, 0.0, 0])
        sums[0], sums[1], sums[2] = sums[0] + loss_sum, sums[1] + correct, sums[2] + len(y)

    def validation_step(self, batch, batch_idx, dataloader_idx: int = 0):
        self.accumulate(batch, dataloader_idx)

    def test_step(self, batch, batch_idx, dataloader_idx: int = 0):
        self.accumulate(batch, dataloader_idx)

    def stage_metrics(self, stages: tuple[str, ...]) -> dict[str, Tensor]:
        metrics = {}
        for index, (loss_sum, correct, count) in sorted(self.eval_sums.items()):
            metrics[f"{stages[index]}/loss"] = loss_sum / count
            metrics[f"{stages[index]}/acc"] = correct.float() / count
        return metrics

    def on_validation_epoch_end(self) -> None:
        if self.trainer.sanity_checking:
            return
        metrics = self.stage_metrics(("val", "train_eval"))
        if "val/acc" in metrics:
            self.val_acc_best = torch.fmax(self.val_acc_best, metrics["val/acc"])
            metrics["val/acc_best"] = self.val_acc_best
        self.log_members(metrics)

    def on_test_epoch_end(self) -> None:
        self.log_members(self.stage_metrics(("test",)))
