"""`dl101.predict` on pictures of digits: real test digits written out as PNG files, and the
same digits as a user might photograph them (inverted, enlarged, in colour, transparent)."""

from __future__ import annotations

import re

import pytest
import torch
from PIL import Image, ImageOps
from torchvision.datasets import MNIST

from dl101.data.images import mnist_like
from dl101.run.inference import load_for_prediction
from dl101.run.training import train
from tests.helpers import QUIET, compose_config, run_module

DIGITS = 20  # the first test digits


@pytest.fixture(scope="module")
def trained(mnist_dir, tmp_path_factory):
    """Softmax regression, one epoch, as `make train` leaves it: logs/train/runs/default/<run>."""
    logs = tmp_path_factory.mktemp("predict") / "logs"
    run = logs / "train" / "runs" / "default" / "run"
    train(compose_config(run, ["trainer.max_epochs=1", *QUIET]))
    return logs


@pytest.fixture(scope="module")
def test_digits(mnist_dir):
    raw = MNIST(str(mnist_dir), train=False)
    return raw.data[:DIGITS], raw.targets[:DIGITS]


def predicted(stdout: str) -> dict[str, tuple[int, float]]:
    """The printed table: image file name -> (predicted class, its probability)."""
    rows = re.findall(r"(\S+\.png)\s*│\s*(\d)\s*│\s*(\d)\s+([\d.]+)", stdout)
    return {name.split("/")[-1]: (int(cls), float(p)) for name, cls, _, p in rows}


@pytest.fixture(scope="module")
def model_on_tensors(trained):
    """The model's probabilities for the test digits, computed on the test set's tensors."""
    model, datamodule = load_for_prediction(str(next(trained.glob("**/last.ckpt"))))
    datamodule.setup("test")
    with torch.no_grad():
        return model(datamodule.test_set.x[:DIGITS]).softmax(1)


def predict_folder(logs, folder) -> dict[str, tuple[int, float]]:
    command = ["dl101.predict", f"paths.log_dir={logs}", "ckpt_path=last", f"input={folder}"]
    return predicted(run_module(*command).stdout)


def test_png_test_digits_get_the_models_predictions_on_the_tensors(
    trained, test_digits, model_on_tensors, tmp_path
):
    pixels, _ = test_digits
    for i, image in enumerate(pixels):
        Image.fromarray(image.numpy()).save(tmp_path / f"digit{i:02d}.png")
    shown = predict_folder(trained, tmp_path)
    assert len(shown) == DIGITS
    for i, expected in enumerate(model_on_tensors):
        cls, probability = shown[f"digit{i:02d}.png"]
        assert cls == int(expected.argmax())
        assert probability == pytest.approx(float(expected.max()), abs=1e-3)


def photographed(image: Image.Image, how: str) -> Image.Image:
    """A test digit as users bring them: dark on light at 100x100, in colour, or transparent."""
    big = image.resize((100, 100), Image.Resampling.BICUBIC)
    if how == "inverted":
        return ImageOps.invert(big)
    if how == "rgb":
        return Image.merge("RGB", [ImageOps.invert(big)] * 3)
    transparent = Image.new("RGBA", big.size, (0, 0, 0, 0))  # black strokes, ink in alpha
    transparent.putalpha(big)
    return transparent


def test_digits_inverted_enlarged_in_colour_or_transparent_keep_their_class(
    trained, test_digits, model_on_tensors, tmp_path
):
    pixels, _ = test_digits
    kinds = ("inverted", "rgb", "transparent")
    for i, image in enumerate(pixels):
        for how in kinds:
            photographed(Image.fromarray(image.numpy()), how).save(tmp_path / f"{how}{i:02d}.png")
    shown = predict_folder(trained, tmp_path)
    assert len(shown) == len(kinds) * DIGITS
    for i, expected in enumerate(model_on_tensors):
        assert [shown[f"{how}{i:02d}.png"][0] for how in kinds] == [int(expected.argmax())] * 3


def test_a_digit_is_centred_by_its_mass_in_a_20_pixel_box(test_digits, tmp_path):
    pixels, _ = test_digits
    canvas = Image.new("L", (300, 200), 255)  # a small dark digit, off-centre, on white
    canvas.paste(ImageOps.invert(Image.fromarray(pixels[0].numpy())), (20, 150))
    canvas.save(tmp_path / "corner.png")
    digit = mnist_like(tmp_path / "corner.png")[0]
    rows, cols = torch.nonzero(digit > 0.1 * 255, as_tuple=True)
    # 20 pixels, one more where the last sub-pixel move spreads an edge over two
    assert max(rows.max() - rows.min(), cols.max() - cols.min()) + 1 in (20, 21)
    grid = torch.arange(28, dtype=torch.float32)
    centre = [(grid * digit.sum(1 - axis)).sum() / digit.sum() for axis in (0, 1)]
    assert all(abs(c - 14) < 0.05 for c in centre)


def test_images_a_model_cannot_read_are_refused_in_one_line(trained, tmp_path):
    (tmp_path / "notes.png").write_text("not an image")
    Image.new("L", (50, 50), 255).save(tmp_path / "blank.png")
    for name, message in (("notes.png", "not an image that can be read"), ("blank.png", "blank")):
        result = run_module(
            "dl101.predict", f"paths.log_dir={trained}", "ckpt_path=last",
            f"input={tmp_path / name}", check=False,
        )  # fmt: skip
        assert result.returncode == 1 and message in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
