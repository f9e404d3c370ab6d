"""Full-length runs: the course's numbers and the documented accuracies (make test-slow)."""

from __future__ import annotations

import pytest

from dl101.training import train
from tests.helpers import QUIET, compose_config

pytestmark = pytest.mark.slow


def test_default_make_train_exceeds_90_percent(mnist_dir, tmp_path):
    assert train(compose_config(tmp_path, QUIET))["test/acc"] > 0.90


def test_course_logreg_reproduces_the_course_curve(mnist_dir, tmp_path):
    metrics = train(compose_config(tmp_path, ["experiment=course_logreg", *QUIET]))
    # The course prints 82 % at iteration 3000; a seed changes it by about a point.
    assert 0.79 <= metrics["test/acc"] <= 0.86


def test_softmax_tuned_reaches_92_percent(mnist_dir, tmp_path):
    assert train(compose_config(tmp_path, ["experiment=softmax_tuned", *QUIET]))["test/acc"] >= 0.92


def test_mlp_mnist_reaches_98_percent(mnist_dir, tmp_path):
    assert train(compose_config(tmp_path, ["experiment=mlp_mnist", *QUIET]))["test/acc"] >= 0.98


def test_course_overfit_baseline_memorizes_its_20_images(mnist_dir, tmp_path):
    metrics = train(compose_config(tmp_path, ["experiment=course_overfit", *QUIET]))
    assert metrics["train_eval/acc"] == 1.0
    assert 0.45 <= metrics["val/acc"] <= 0.60  # the course: 0.5246


# The README's figures for parts IV and V, at the budgets it states. A tolerance is three
# standard deviations of the seed spread measured for that figure: the course RNN 0.9703 ±
# 0.0025 over 3 seeds, the CNN 0.9950 and 0.9949 for two seeds (spread taken as 0.0007), the
# char LM 4.45 and 4.55 for two seeds (0.07). LeNet, LSTM and GRU were measured with one seed;
# they take the course RNN's spread.
@pytest.mark.parametrize(
    ("experiment", "documented", "tolerance"),
    [
        ("lenet_mnist", 0.991, 3 * 0.0025),
        ("cnn_mnist", 0.995, 3 * 0.0007),
        ("lstm_mnist", 0.990, 3 * 0.0025),
        ("gru_mnist", 0.990, 3 * 0.0025),
        ("course_rnn", 0.9703, 3 * 0.0025),
    ],
)
def test_readme_accuracy(mnist_dir, tmp_path, experiment, documented, tolerance):
    metrics = train(compose_config(tmp_path, [f"experiment={experiment}", *QUIET]))
    assert metrics["test/acc"] >= documented - tolerance


def test_readme_char_lm_perplexity(tmp_path):
    metrics = train(compose_config(tmp_path, ["experiment=char_lm", *QUIET]))
    assert metrics["val/ppl"] <= 4.45 + 3 * 0.07  # the README: 4.45 (seed 42), 4.55 (seed 1)
