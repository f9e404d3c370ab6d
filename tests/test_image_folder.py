"""`data=image_folder`: one's own pictures in a folder per class, read with torchvision's
ImageFolder into tensors: classes by folder, a seeded disjoint validation part, statistics of
the training part only (kept in checkpoints), a picture read for predict as training read it,
and a folder that is not one refused in one line."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from dl101.data import ImageFolderDataModule
from dl101.data.mnist import raw_mnist
from dl101.errors import InputError
from tests.helpers import write_digit_pictures


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
