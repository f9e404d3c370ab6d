"""Lightning callbacks by purpose, re-exported here so configs name them `dl101.callbacks.X`:

- `training`: the machinery every run uses (progress bar, loss guard, run stats);
- `diagnostics`: gradient flow and the course's test-set curve;
- `visuals`: what the course shows after training (predictions, feature maps, samples);
- `outputs`: where callbacks send scalars, images and files.
"""

from dl101.callbacks.diagnostics import GradientFlow, TestSetCurve
from dl101.callbacks.training import (
    FiniteLossGuard,
    NonFiniteLossError,
    RichProgressBar,
    RunStats,
    SaveOnSignal,
    ValidateFinalWeights,
)
from dl101.callbacks.visuals import (
    FeatureMaps,
    LinearFitReport,
    PredictionGrid,
    ReportPredictions,
    TextSample,
)

__all__ = [
    "FeatureMaps",
    "FiniteLossGuard",
    "GradientFlow",
    "LinearFitReport",
    "NonFiniteLossError",
    "PredictionGrid",
    "ReportPredictions",
    "RichProgressBar",
    "RunStats",
    "SaveOnSignal",
    "TestSetCurve",
    "TextSample",
    "ValidateFinalWeights",
]
