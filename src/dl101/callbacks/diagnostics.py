"""What a run logs to be diagnosed: gradient flow per layer (course III E) and the course's
test-set curve (course II C)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pytorch_lightning import Callback, LightningModule, Trainer
from pytorch_lightning.utilities import grad_norm
from rich import print as rprint
from torchmetrics.classification import MulticlassAccuracy

from dl101.callbacks.outputs import log_metrics
from dl101.results.tables import gradient_flow_verdict


class TestSetCurve(Callback):
    """The course's curve: official test-set accuracy each time validation runs.

    The course prints it every 500 iterations. It is logged as `test_curve/*` and never used for
    model selection, which stays on `val/acc`.
    """

    charts = {
        "test accuracy (the course's curve) vs val": ["Multiline", [r"^(test_curve|val)/acc$"]]
    }

    def on_validation_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.sanity_checking:
            return
        classes = pl_module.test_acc.num_classes  # the classifier's own count
        accuracy = MulticlassAccuracy(classes, average="micro").to(pl_module.device)
        loss_sum, count = torch.zeros((), device=pl_module.device), 0
        was_training = pl_module.training
        pl_module.eval()
        with torch.no_grad():
            for x, y in trainer.datamodule.test_dataloader():
                x, y = x.to(pl_module.device), y.to(pl_module.device)
                logits = pl_module(x)
                accuracy.update(logits, y)
                loss_sum += F.cross_entropy(logits, y, reduction="sum")
                count += len(y)
        pl_module.train(was_training)
        metrics = {
            "test_curve/acc": accuracy.compute().item(),
            "test_curve/loss": (loss_sum / count).item(),
        }
        log_metrics(trainer, metrics)
        train_loss = trainer.callback_metrics.get("train/loss", float("nan"))
        rprint(
            f"Iteration: {trainer.global_step}. Train loss: {float(train_loss):.4f}. "
            f"Test accuracy: {100 * metrics['test_curve/acc']:.2f} %"
        )


class GradientFlow(Callback):
    """Log the gradient norm of every linear/conv layer's weight, at initialization (the first
    step) and every `every_n_steps` after, plus the first-layer / last-layer ratio that tells
    vanishing (<< 1) from exploding (>> 1) gradients."""

    charts = {"gradient norm per layer": ["Multiline", [r"^grad_norm/layer\d+$"]]}

    def __init__(self, every_n_steps: int = 25):
        self.every_n_steps = every_n_steps
        self.verdict_at_init: str | None = None

    def on_before_optimizer_step(self, trainer: Trainer, pl_module: LightningModule, optimizer):
        step = trainer.global_step
        if step % self.every_n_steps:
            return
        weights = [
            f"{name}.weight"
            for name, module in pl_module.named_modules()
            if isinstance(module, torch.nn.Linear | torch.nn.Conv2d)
            and module.weight.grad is not None
        ]
        by_parameter = grad_norm(pl_module, norm_type=2, group_separator="/")
        norms = torch.stack([by_parameter[f"grad_2.0_norm/{w}"] for w in weights]).tolist()
        ratio = norms[0] / max(norms[-1], 1e-30)
        metrics = {f"grad_norm/layer{i + 1:02d}": norm for i, norm in enumerate(norms)}
        metrics["grad_flow/first_over_last"] = ratio
        if step == 0:
            metrics["grad_flow/first_over_last_at_init"] = ratio
            metrics["grad_flow/first_layer_at_init"] = norms[0]
            self.verdict_at_init = (
                f"first layer {norms[0]:.3g}, first/last {ratio:.3g} -> "
                f"{gradient_flow_verdict(ratio, norms[0])}"
            )
        log_metrics(trainer, metrics, step=step)

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self.verdict_at_init:
            rprint(f"Gradient norms at initialization: {self.verdict_at_init}")
