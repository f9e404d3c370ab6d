"""Text for language models: a vocabulary, disjoint train/val/test parts, and the two batching
schemes of the literature (random windows; sequential streams for truncated BPTT)."""

from __future__ import annotations

import re
from collections import Counter

import torch
from torch.utils.data import DataLoader, Dataset

from dl101.data.base import DataModule
from dl101.data.batching import (
    EpochShuffleSampler,
    IndexBatchSampler,
    keep_batch,
    training_device,
)
from dl101.data.corpora import read_text_file, shakespeare_plays, time_machine
from dl101.errors import ConfigError

UNK = "<unk>"


def tokenize(text: str, level: str) -> list[str]:
    if level == "char":
        return list(text)
    if level == "word":
        return re.findall(r"\w+(?:'\w+)?|[^\w\s]", text)
    raise ConfigError(f"data.level={level!r}: choose char or word")


class Vocab:
    """Tokens seen at least `min_freq` times, most frequent first; the rest map to <unk>."""

    def __init__(self, tokens: list[str], min_freq: int = 1):
        counts = Counter(tokens)
        kept = sorted(
            (t for t, c in counts.items() if c >= min_freq), key=lambda t: (-counts[t], t)
        )
        self.itos = [UNK, *kept]
        self.stoi = {token: i for i, token in enumerate(self.itos)}

    @classmethod
    def from_itos(cls, itos: list[str]) -> Vocab:
        vocab = cls([])
        vocab.itos, vocab.stoi = list(itos), {t: i for i, t in enumerate(itos)}
        return vocab

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, tokens: list[str]) -> torch.Tensor:
        return torch.tensor([self.stoi.get(t, 0) for t in tokens], dtype=torch.long)

    def decode(self, ids, level: str) -> str:
        return ("" if level == "char" else " ").join(self.itos[int(i)] for i in ids)


class RandomWindows(Dataset):
    """Non-overlapping (input, target) windows of `seq_len` tokens from a random start offset,
    drawn anew by `reshuffle()` each epoch; the DataLoader shuffles their order."""

    def __init__(self, ids: torch.Tensor, seq_len: int):
        self.ids, self.seq_len, self.offset = ids, seq_len, 0
        if len(ids) <= seq_len:
            raise ConfigError(f"data.seq_len={seq_len} leaves no window in {len(ids)} tokens")

    def reshuffle(self) -> None:
        self.offset = int(torch.randint(self.seq_len, ()))

    def __len__(self) -> int:
        return (len(self.ids) - 1 - self.seq_len) // self.seq_len

    def __getitems__(self, indices):
        starts = self.offset + torch.as_tensor(indices).to(self.ids.device) * self.seq_len
        index = starts.unsqueeze(1) + torch.arange(self.seq_len + 1, device=self.ids.device)
        window = self.ids[index]
        return window[:, :-1], window[:, 1:]


class SequentialStreams(Dataset):
    """The text cut into `batch_size` contiguous streams; batch i is the i-th block of
    `seq_len` tokens of every stream, so a hidden state carried from batch i to i + 1 continues
    the same text (truncated BPTT)."""

    def __init__(self, ids: torch.Tensor, seq_len: int, batch_size: int):
        per_stream = (len(ids) - 1) // batch_size
        if per_stream < 1:
            raise ConfigError(f"{len(ids)} tokens cannot make {batch_size} streams")
        self.x = ids[: batch_size * per_stream].view(batch_size, per_stream)
        self.y = ids[1 : batch_size * per_stream + 1].view(batch_size, per_stream)
        self.seq_len = seq_len

    def __len__(self) -> int:
        return -(-self.x.shape[1] // self.seq_len)

    def __getitem__(self, i: int):
        block = slice(i * self.seq_len, (i + 1) * self.seq_len)
        return self.x[:, block], self.y[:, block]  # (B, T) each


class TextDataModule(DataModule):
    paths = ("data_dir", "path")  # made absolute when a run starts (corpus=file's text file)

    def __init__(
        self,
        data_dir: str,
        corpus: str = "shakespeare",
        path: str | None = None,
        level: str = "char",
        min_freq: int = 1,
        val_plays: list[str] = ("macbeth", "the-comedy-of-errors"),
        test_plays: list[str] = ("julius-caesar", "twelfth-night"),
        val_fraction: float = 0.1,
        test_fraction: float = 0.1,
        seq_len: int = 128,
        batch_size: int = 64,
        scheme: str = "random",
        eval_batch_size: int = 32,
        keep_on_device: bool = True,
    ):
        super().__init__()
        if scheme not in ("random", "sequential"):
            raise ConfigError(f"data.scheme={scheme!r}: choose random or sequential")
        if corpus not in ("shakespeare", "time_machine", "file"):
            raise ConfigError(f"data.corpus={corpus!r}: choose shakespeare, time_machine or file")
        for name, value in (("seq_len", seq_len), ("batch_size", batch_size)):
            if value <= 0:
                raise ConfigError(f"data.{name}={value}: must be a positive integer")
        self.data_dir, self.corpus, self.path = data_dir, corpus, path
        self.level, self.min_freq = level, min_freq
        self.val_plays, self.test_plays = list(val_plays), list(test_plays)
        self.val_fraction, self.test_fraction = val_fraction, test_fraction
        self.seq_len, self.batch_size, self.eval_batch_size = seq_len, batch_size, eval_batch_size
        self.scheme, self.keep_on_device = scheme, keep_on_device
        self.vocab: Vocab | None = None
        self.splits: dict[str, torch.Tensor] = {}
        self._texts: dict[str, str] | None = None  # read once: the corpus costs seconds a read

    @property
    def sequential(self) -> bool:
        """Whether the model should carry its hidden state across training batches."""
        return self.scheme == "sequential"

    def split_texts(self) -> dict[str, str]:
        """The train/val/test text, read once (prepare_data, setup and model_args all ask)."""
        if self._texts is None:
            self._texts = self.read_splits()
        return self._texts

    def read_splits(self) -> dict[str, str]:
        """Disjoint train/val/test text: whole plays held out, or contiguous parts of one text."""
        if self.corpus == "shakespeare":
            plays = shakespeare_plays(self.data_dir)
            unknown = sorted(set(self.val_plays + self.test_plays) - plays.keys())
            if unknown:
                raise ConfigError(
                    f"data.val_plays/test_plays: unknown {unknown}; plays: {sorted(plays)}"
                )
            held_out = set(self.val_plays) | set(self.test_plays)
            return {
                "train": "\n".join(t for name, t in plays.items() if name not in held_out),
                "val": "\n".join(plays[name] for name in self.val_plays),
                "test": "\n".join(plays[name] for name in self.test_plays),
            }
        text = (
            time_machine(self.data_dir)
            if self.corpus == "time_machine"
            else read_text_file(self.path)
        )
        n_val, n_test = int(len(text) * self.val_fraction), int(len(text) * self.test_fraction)
        n_train = len(text) - n_val - n_test
        return {
            "train": text[:n_train],
            "val": text[n_train : n_train + n_val],
            "test": text[n_train + n_val :],
        }

    def prepare_data(self) -> None:
        self.split_texts()  # fetches and checks the corpus once

    def setup(self, stage: str | None = None) -> None:
        if not self.splits:
            texts = self.split_texts()
            tokens = {name: tokenize(text, self.level) for name, text in texts.items()}
            if self.vocab is None:  # a checkpoint's vocabulary wins over a rebuilt one
                self.vocab = Vocab(tokens["train"], self.min_freq)
            self.splits = {name: self.vocab.encode(t) for name, t in tokens.items()}
        if self.keep_on_device:  # a GPU then reads its batches in place: no copy per step
            device = training_device(self)
            self.splits = {name: ids.to(device) for name, ids in self.splits.items()}

    def model_args(self) -> dict:
        """What the model needs to know of the data: its vocabulary size."""
        if self.vocab is None:
            self.prepare_data()
            self.setup("fit")
        return {"vocab_size": len(self.vocab)}

    def state_dict(self) -> dict:
        return {"itos": self.vocab.itos if self.vocab else []}

    def load_state_dict(self, state_dict: dict) -> None:
        if state_dict.get("itos"):
            self.vocab = Vocab.from_itos(state_dict["itos"])

    def train_dataloader(self):
        if self.sequential:
            streams = SequentialStreams(self.splits["train"], self.seq_len, self.batch_size)
            return DataLoader(streams, batch_size=None, shuffle=False)
        windows = RandomWindows(self.splits["train"], self.seq_len)
        windows.reshuffle()
        sampler = IndexBatchSampler(
            EpochShuffleSampler(len(windows)), self.batch_size, device=windows.ids.device
        )
        return DataLoader(windows, batch_sampler=sampler, collate_fn=keep_batch)

    def _eval_loader(self, split: str):
        streams = SequentialStreams(self.splits[split], self.seq_len, self.eval_batch_size)
        return DataLoader(streams, batch_size=None, shuffle=False)

    def val_dataloader(self):
        return self._eval_loader("val")

    def test_dataloader(self):
        return self._eval_loader("test")
