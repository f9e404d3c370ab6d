"""`data=image_folder`: one's own pictures in a folder per class, read with torchvision's
ImageFolder into tensors: classes by folder, a seeded disjoint validation part, statistics of
the training part only (kept in checkpoints), a picture read for predict as training read it,
and a folder that is not one refused in one line. The pictures are read as they are: colour
gives three channels, gray one, a mix is said in one line; a file that is not a readable image
is refused naming it (or skipped and counted); a checkpoint's datamodule tests on its test
folder alone."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from dl101.data import ImageFolderDataModule
from dl101.data.mnist import raw_mnist
from dl101.errors import InputError
from tests.helpers import SHAPES, write_digit_pictures, write_shape_pictures


@pytest.fixture(scope="module")
def digits(mnist_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("digits")
    write_digit_pictures(root / "train", train=True, per_class=12)
    write_digit_pictures(root / "test", train=False, per_class=3)
    return root


def test_pictures_become_tensors_with_their_folders_as_classes(digits):
    data = ImageFolderDataModule(str(digits / "train"), str(digits / "test"), val_fraction=0.25)
    assert data.model_args() == {"input_shape": [1, 28, 28], "num_classes": 10}
    data.setup("fit")
    assert data.class_names == [str(d) for d in range(10)]
    assert len(data.train_set) == 90 and len(data.val_set) == 30 and len(data.test_set) == 30
    assert data.train_set.x.shape[1:] == (1, 28, 28)
    # standardized with the training part's statistics: mean 0, std 1 there, not elsewhere
    assert abs(data.train_set.x.mean()) < 1e-5 and abs(data.train_set.x.std() - 1) < 1e-2


def test_the_tensors_are_the_pictures_pixels_label_for_label(digits, mnist_dir):
    """ImageFolder's order: by class, then by file name; test/7/000.png is MNIST's first 7."""
    data = ImageFolderDataModule(str(digits / "train"), str(digits / "test"))
    data.setup("fit")
    pixels, labels = raw_mnist(str(mnist_dir), train=False)
    first_seven = pixels[labels == 7][0][None, None]
    assert data.test_set.y[21] == 7
    assert torch.allclose(data.test_set.x[21], data.transform(first_seven)[0])


def test_the_validation_part_is_disjoint_seeded_and_from_the_training_folder(digits):
    a = ImageFolderDataModule(str(digits / "train"), split_seed=1)
    b = ImageFolderDataModule(str(digits / "train"), split_seed=1)
    c = ImageFolderDataModule(str(digits / "train"), split_seed=2)
    train, val = a.split_indices(120)
    assert not set(train.tolist()) & set(val.tolist()) and len(train) + len(val) == 120
    assert torch.equal(val, b.split_indices(120)[1]) and not torch.equal(
        val, c.split_indices(120)[1]
    )
    a.setup("fit")
    assert a.test_set is a.val_set  # no test folder: the held-out part is tested


def test_a_picture_reads_as_the_training_read_it_and_statistics_travel(digits):
    data = ImageFolderDataModule(str(digits / "train"), str(digits / "test"))
    data.setup("fit")
    path = digits / "test" / "7" / "000.png"
    raw = data.read_picture(path)
    assert raw.dtype == torch.uint8 and raw.shape == (1, 28, 28)
    assert torch.equal(raw, torch.from_numpy(np.array(Image.open(path)))[None])
    restored = ImageFolderDataModule(str(digits / "train"))
    restored.load_state_dict(data.state_dict())
    assert torch.equal(restored.transform(raw[None]), data.transform(raw[None]))
    assert restored.class_names == data.class_names


def test_a_folder_that_is_not_one_of_classes_is_refused_in_one_line(digits, tmp_path):
    with pytest.raises(InputError, match="no such folder"):
        ImageFolderDataModule(str(tmp_path / "missing")).prepare_data()
    (tmp_path / "flat").mkdir()
    Image.new("L", (28, 28)).save(tmp_path / "flat" / "a.png")  # pictures but no class folders
    with pytest.raises(InputError, match="data.root=.*flat"):
        ImageFolderDataModule(str(tmp_path / "flat")).prepare_data()
    (tmp_path / "other" / "cat").mkdir(parents=True)
    Image.new("L", (28, 28)).save(tmp_path / "other" / "cat" / "a.png")
    mixed = ImageFolderDataModule(str(digits / "train"), str(tmp_path / "other"))
    with pytest.raises(InputError, match="its classes \\['cat'\\] are not data.root's"):
        mixed.setup("fit")


def test_colour_pictures_give_three_channels_and_gray_ones_one(digits, tmp_path):
    write_shape_pictures(tmp_path / "shapes", per_class=4)
    colour = ImageFolderDataModule(str(tmp_path / "shapes"))
    assert colour.model_args() == {"input_shape": [3, 28, 28], "num_classes": 3}
    colour.setup("fit")
    assert colour.train_set.x.shape[1:] == (3, 28, 28) and colour.class_names == list(SHAPES)
    red = colour.read_picture(tmp_path / "shapes" / "circle" / "000.png")
    assert red.shape == (3, 28, 28) and red[0].max() > 200 and red[2].max() < 100  # not gray
    gray = ImageFolderDataModule(str(digits / "train"))
    assert gray.model_args()["input_shape"] == [1, 28, 28]
    forced = ImageFolderDataModule(str(tmp_path / "shapes"), grayscale=True)
    assert forced.model_args()["input_shape"] == [1, 28, 28]  # set explicitly: as asked


def test_a_gray_palette_counts_as_gray(tmp_path):
    for name, colour in [("gray", (90, 90, 90)), ("red", (200, 0, 0))]:
        (tmp_path / name / "c").mkdir(parents=True)
        palette = Image.new("P", (8, 8), 1)  # every pixel the palette's colour 1
        palette.putpalette([0, 0, 0, *colour, *[255, 0, 255] * 254])  # unused entries: magenta
        palette.save(tmp_path / name / "c" / "a.png")
        Image.new("L", (8, 8), 90).save(tmp_path / name / "c" / "b.png")
    assert ImageFolderDataModule(str(tmp_path / "gray")).channels == 1
    assert ImageFolderDataModule(str(tmp_path / "red")).channels == 3


def test_a_folder_mixing_gray_and_colour_is_read_in_colour_and_says_so(tmp_path, caplog):
    write_shape_pictures(tmp_path / "mixed", per_class=3)
    for shape in SHAPES:
        Image.new("L", (16, 16), 128).save(tmp_path / "mixed" / shape / "gray.png")
    data = ImageFolderDataModule(str(tmp_path / "mixed"), val_fraction=0.25)
    with caplog.at_level(logging.INFO, logger="dl101.data.folders"):
        assert data.channels == 3
        data.setup("fit")
    lines = [r.getMessage() for r in caplog.records if "by mode" in r.getMessage()]
    assert lines == [
        f"data.root={tmp_path / 'mixed'}: images by mode: 9 RGB, 3 L; 3 of 12 read as RGB "
        "(3 channels), the folder mixes gray and colour; data.grayscale=true reads all as gray"
    ]
    gray = data.read_picture(tmp_path / "mixed" / "square" / "gray.png")
    assert torch.equal(gray[0], gray[1]) and torch.equal(gray[1], gray[2])  # gray, in 3 channels
    classes = [r.getMessage() for r in caplog.records if "classes (" in r.getMessage()]
    assert classes == [
        f"data.root={tmp_path / 'mixed'}: 12 images, 3 classes (circle=0, square=1, "
        "triangle=2), 3 channels"
    ]  # the class -> index mapping, printed once


def not_an_image(path: Path) -> Path:
    path.write_text("a note, not a picture\n")
    return path


def test_a_file_that_is_not_an_image_is_refused_naming_it_or_skipped_and_counted(digits, tmp_path):
    write_shape_pictures(tmp_path / "shapes", per_class=4)
    bad = not_an_image(tmp_path / "shapes" / "square" / "img.png")
    with pytest.raises(InputError) as refused:
        ImageFolderDataModule(str(tmp_path / "shapes")).prepare_data()
    assert str(refused.value).startswith(
        f"data.root={tmp_path / 'shapes'}: {bad} is not an image that can be read (cannot "
        "identify image file"
    )
    assert str(refused.value).endswith("skip such files with data.skip_unreadable=true")
    skipping = ImageFolderDataModule(str(tmp_path / "shapes"), skip_unreadable=True)
    skipping.setup("fit")
    assert len(skipping.train_set) + len(skipping.val_set) == 12  # the 12 pictures, not 13


def test_a_truncated_picture_is_refused_when_its_pixels_are_read(tmp_path):
    write_shape_pictures(tmp_path / "shapes", per_class=4)
    whole = (tmp_path / "shapes" / "circle" / "001.png").read_bytes()
    cut = tmp_path / "shapes" / "circle" / "001.png"
    cut.write_bytes(whole[: len(whole) // 2])  # its header reads; its pixels do not
    data = ImageFolderDataModule(str(tmp_path / "shapes"))
    with pytest.raises(InputError, match=f"data.root=.*: {cut} is not an image that can be read"):
        data.setup("fit")


def test_a_restored_datamodule_tests_on_test_root_alone_with_its_saved_channels(tmp_path):
    write_shape_pictures(tmp_path / "train", per_class=6)
    write_shape_pictures(tmp_path / "test", per_class=2, seed=1)
    trained = ImageFolderDataModule(str(tmp_path / "train"))
    trained.setup("fit")
    state = trained.state_dict()
    assert state["channels"] == 3 and state["classes"] == list(SHAPES)
    gone = ImageFolderDataModule(str(tmp_path / "moved-away"), str(tmp_path / "test"))
    gone.load_state_dict(state)
    assert gone.model_args() == {"input_shape": [3, 28, 28], "num_classes": 3}
    gone.prepare_data()  # as Lightning calls it before testing
    gone.setup("test")  # the training folder is not read: it is not there
    assert len(gone.test_set) == 6 and gone.train_set is None
    assert torch.equal(gone.mean, trained.mean)
    old = {key: value for key, value in state.items() if key != "channels"}  # an older checkpoint
    older = ImageFolderDataModule(str(tmp_path / "moved-away"), grayscale=False)
    older.load_state_dict(old)
    assert older.channels == 3
