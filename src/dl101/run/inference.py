"""A trained model put to use: load it from a checkpoint, predict on raw inputs or pictures of
digits, continue a prompt. Shared by `dl101.predict`, `dl101.sample`, the callbacks and the
course's figures."""

from __future__ import annotations

from pathlib import Path

import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from rich.table import Table

from dl101.data import model_args
from dl101.data.text import UNK, Vocab, tokenize
from dl101.errors import ConfigError, InputError
from dl101.models import Classifier
from dl101.run.checkpoints import load_checkpoint, restore_datamodule, run_config


def load_for_prediction(ckpt_path: str):
    """The checkpoint's model with its weights and its datamodule with its saved statistics."""
    checkpoint = load_checkpoint(ckpt_path)
    run = run_config(checkpoint)
    datamodule = restore_datamodule(checkpoint, run.data)
    model = instantiate(run.model, **model_args(datamodule, run.model))
    model.load_state_dict(checkpoint["state_dict"])
    return model, datamodule


def as_rows(values) -> list[list[float]]:
    """`2000`, `[2000]` or `[[2000], [1500]]` -> a list of input rows."""
    values = OmegaConf.to_object(values) if OmegaConf.is_config(values) else values
    if not isinstance(values, list):
        return [[values]]
    return values if values and isinstance(values[0], list) else [values]


@torch.no_grad()
def predict(model, datamodule, rows: list[list[float]]) -> torch.Tensor:
    """Raw input rows -> class probabilities (N, C) for a classifier, values (N,) otherwise."""
    raw = torch.tensor(rows, dtype=torch.float32)
    shape = tuple(datamodule.model_args()["input_shape"])
    expected = torch.Size(shape).numel()
    if raw.shape[1:].numel() != expected:
        raise InputError(
            f"input rows have {raw.shape[1:].numel()} values; this model takes {expected} "
            f"(shape {shape})"
        )
    x = datamodule.transform(raw.reshape(len(rows), *shape))
    model.eval()
    outputs = model(x.to(model.device)).cpu()
    return outputs.softmax(-1) if isinstance(model, Classifier) else outputs


def prediction_table(model, datamodule, rows, targets=None, reference=None) -> Table:
    """One row per input: its raw values, the prediction, the true target or the reference gap."""
    outputs = predict(model, datamodule, rows)
    classifier = isinstance(model, Classifier)
    names, target = datamodule.feature_names, datamodule.target_name
    show_inputs = names is not None and len(names) == len(rows[0])  # not for 784 pixels
    classes = datamodule.class_names or [str(c) for c in range(outputs.shape[-1])]

    table = Table(title="Predictions")
    headers = names if show_inputs else ["row"]
    if classifier:
        headers += ["predicted", *(f"P({classes[c]})" for c in range(outputs.shape[1]))]
    else:
        headers.append(f"predicted {target}")
    headers += [f"true {target}"] * (targets is not None)
    headers += ["reference - predicted"] * (reference is not None)
    for header in headers:
        table.add_column(header, justify="right")

    for i, row in enumerate(rows):
        cells = [f"{v:g}" for v in row] if show_inputs else [str(i)]
        if classifier:
            cells += [classes[int(outputs[i].argmax())], *(f"{p:.3f}" for p in outputs[i])]
        else:
            cells.append(f"{outputs[i]:.2f}")
        if targets is not None:
            cells.append(classes[int(targets[i])] if classifier else f"{targets[i]:g}")
        if reference is not None:
            gap = reference - outputs[i].item()
            cells.append(f"{gap:+.2f} ({100 * gap / outputs[i].item():+.1f} %)")
        table.add_row(*cells)
    return table


def image_table(model, datamodule, files: list[Path], top: int = 3) -> Table:
    """One row per picture: its top classes with their probabilities. Each picture is read
    as the checkpoint's data reads its own (a digit made MNIST-like, a folder's image resized)."""
    if not isinstance(model, Classifier):
        raise InputError(f"input={files[0]}: this checkpoint's model is not a classifier")
    pixels = torch.stack([datamodule.read_picture(path) for path in files])
    probabilities = predict(model, datamodule, pixels.flatten(1).tolist())
    names = datamodule.class_names or [str(c) for c in range(probabilities.shape[1])]
    top = min(top, probabilities.shape[1])
    table = Table(title="Predictions")
    for header in ("image", "predicted", *(f"#{rank}" for rank in range(1, top + 1))):
        table.add_column(header, justify="left" if header == "image" else "right", no_wrap=True)
    for path, row in zip(files, probabilities, strict=True):
        values, classes = row.topk(top)
        ranked = [f"{names[c]}  {p:.3f}" for p, c in zip(values, classes, strict=True)]
        table.add_row(str(path), names[int(classes[0])], *ranked)
    return table


@torch.no_grad()
def generate(
    model, vocab: Vocab, level: str, prompt: str, length: int, temperature: float = 1.0
) -> str:
    """The prompt followed by `length` sampled tokens; temperature 0 always takes the likeliest."""
    if temperature < 0:
        raise ConfigError(f"temperature={temperature}: must be >= 0")
    model.eval()
    ids = vocab.encode(tokenize(prompt, level)) if prompt else torch.zeros(1, dtype=torch.long)
    logits, state = model(ids.unsqueeze(0).to(model.device))  # read the whole prompt
    generated = []
    for _ in range(length):
        last = logits[0, -1].clone()
        last[vocab.stoi[UNK]] = -torch.inf  # never write "<unk>"
        if temperature == 0:
            token = last.argmax()
        else:
            token = torch.multinomial(torch.softmax(last / temperature, dim=-1), 1)[0]
        generated.append(int(token))
        logits, state = model(token.view(1, 1), state)
    separator = "" if level == "char" or not prompt else " "
    return prompt + separator + vocab.decode(generated, level)
