"""torch.optim's SGD, Adam and AdamW for stacked models: every parameter is (N, ...), one slice
per member, and each hyper-parameter is a tensor of N values, so that members differing in
learning rate, momentum or weight decay take one vectorized step instead of N optimizers'.

torch.optim takes one number per hyper-parameter and parameter group; a group per member would
need a parameter per member, which a stacked tensor is not. The updates are torch.optim's own
formulas (its defaults: no dampening, no nesterov, no amsgrad), checked against it step by step in
tests/test_stacked.py; a member's state reads back as the torch.optim state a separate run's
checkpoint holds (`member_state`).
"""

from __future__ import annotations

import inspect

import torch
from hydra.utils import get_class as locate
from torch import Tensor

from dl101.stacked.grouping import STACKABLE


def per_member(values: list[float] | Tensor, like: Tensor) -> Tensor:
    """N values shaped (N, 1, ..., 1) to broadcast over a stacked parameter `like`."""
    values = torch.as_tensor(values).to(dtype=like.dtype, device=like.device)
    return values.view(-1, *[1] * (like.dim() - 1))


class StackedOptimizer(torch.optim.Optimizer):
    """One parameter group; `hyper[name]` holds the N members' values of each hyper-parameter."""

    def __init__(self, params, hyper: dict[str, list[float]]):
        self.hyper = {name: list(values) for name, values in hyper.items()}
        self.cached: dict[tuple, Tensor] = {}
        super().__init__(params, defaults={})

    def values(self, name: str, like: Tensor) -> Tensor:
        key = (name, like.dim(), like.dtype, like.device)
        if key not in self.cached:  # made once: a tensor a step costs more than the update
            self.cached[key] = per_member(self.hyper[name], like)
        return self.cached[key]

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for param in self.param_groups[0]["params"]:
            if param.grad is not None:
                self.update(param)
        return loss

    def update(self, param: Tensor) -> None:
        """One member-wise step of `param` (N, ...) from its gradient."""
        raise NotImplementedError

    def double(self, name: str) -> Tensor:
        """The members' values in double precision, where torch.optim computes with Python
        floats (1 - beta, the bias corrections)."""
        return torch.tensor(self.hyper[name], dtype=torch.float64)

    def member_state(self, member: int) -> dict:
        """Member `member`'s state as the matching torch.optim optimizer keeps it, by the
        parameters' order."""
        params = self.param_groups[0]["params"]
        state = {}
        for index, param in enumerate(params):
            own = {
                key: value[member].clone() if key != "step" else value.clone()
                for key, value in self.state.get(param, {}).items()
                if self.kept(key, member)
            }
            if own:
                state[index] = own
        return state

    def kept(self, key: str, member: int) -> bool:
        """Whether torch.optim keeps `key` for this member (SGD keeps no buffer without
        momentum)."""
        return True

    def load_member_states(self, states: list[dict]) -> None:
        """The members' torch.optim states (one per member, by parameter order) stacked back."""
        for index, param in enumerate(self.param_groups[0]["params"]):
            keys = {key for s in states for key in s.get(index, {})}
            own = [s.get(index, {}) for s in states]
            self.state[param] = {
                key: next(o[key] for o in own if key in o).clone()
                if key == "step"
                else torch.stack([o.get(key, torch.zeros_like(param[0])) for o in own]).to(param)
                for key in keys
            }


class StackedSGD(StackedOptimizer):
    """torch.optim.SGD: d = g + wd p; b = momentum b + (1 - dampening) d (b = d at the first
    step); p -= lr b (lr d without momentum)."""

    def __init__(self, params, hyper: dict[str, list]):
        super().__init__(params, hyper)
        self.momentum = any(hyper["momentum"])
        self.decay, self.dampening = any(hyper["weight_decay"]), any(hyper["dampening"])

    def kept(self, key: str, member: int) -> bool:
        return key != "momentum_buffer" or self.hyper["momentum"][member] != 0

    @torch.no_grad()
    def update(self, param: Tensor) -> None:
        grad = param.grad
        if self.decay:
            grad = grad.addcmul(self.values("weight_decay", param), param)
        if self.momentum:
            state = self.state[param]
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = grad.clone()
            else:
                buffer = state["momentum_buffer"].mul_(self.values("momentum", param))
                if self.dampening:
                    buffer.addcmul_(1 - self.values("dampening", param), grad)
                else:
                    buffer.add_(grad)
            grad = state["momentum_buffer"]
        param.addcmul_(self.values("lr", param), grad, value=-1)


class StackedAdam(StackedOptimizer):
    """torch.optim.Adam (L2 weight decay added to the gradient) or, `decoupled`, AdamW (the
    weights shrunk by lr * wd before the step)."""

    decoupled = False

    def __init__(self, params, hyper: dict[str, list]):
        betas = hyper.pop("betas")
        hyper |= {"beta1": [b[0] for b in betas], "beta2": [b[1] for b in betas]}
        super().__init__(params, hyper)

    @torch.no_grad()
    def update(self, param: Tensor) -> None:
        wd = self.values("weight_decay", param)
        grad = param.grad
        if self.decoupled:
            param.mul_(1 - self.values("lr", param) * wd)
        else:
            grad = grad + wd * param
        state = self.state[param]
        if not state:
            state["step"] = torch.tensor(0.0)
            state["exp_avg"] = torch.zeros_like(param)
            state["exp_avg_sq"] = torch.zeros_like(param)
        state["step"] += 1
        # As torch.optim: 1 - beta and the bias corrections in double precision.
        step = float(state["step"])
        beta1, beta2, lr = (self.double(name) for name in ("beta1", "beta2", "lr"))
        state["exp_avg"].lerp_(grad, per_member(1 - beta1, param))
        state["exp_avg_sq"].mul_(self.values("beta2", param))
        state["exp_avg_sq"].addcmul_(per_member(1 - beta2, param) * grad, grad)
        corrected = state["exp_avg_sq"].sqrt() / per_member((1 - beta2**step).sqrt(), param)
        denominator = corrected.add_(self.values("eps", param))
        param.sub_(per_member(lr / (1 - beta1**step), param) * state["exp_avg"] / denominator)


class StackedAdamW(StackedAdam):
    decoupled = True


CLASSES = {"torch.optim.SGD": StackedSGD, "torch.optim.Adam": StackedAdam,
           "torch.optim.AdamW": StackedAdamW}  # fmt: skip


def optimizer_settings(target: str, keywords: dict) -> dict:
    """A member's `model.optimizer` keywords with torch.optim's defaults filled in."""
    defaults = {
        name: parameter.default
        for name, parameter in inspect.signature(locate(target)).parameters.items()
        if parameter.default is not inspect.Parameter.empty
    }
    return {**defaults, **keywords}


def stacked_optimizer(params, target: str, keywords: list[dict]) -> StackedOptimizer:
    """The stacked form of optimizer `target` for members with these `model.optimizer`
    keywords, one dict per member."""
    settings = [optimizer_settings(target, own) for own in keywords]
    return CLASSES[target](
        params, {name: [s[name] for s in settings] for name in STACKABLE[target]}
    )
