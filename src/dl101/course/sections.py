"""The course's sections as its table of contents numbers and names them (part II's
"C. Implementation" from its body). The notebooks' headings follow them in this order, and
every course experiment's `section` label (conf/budget/) names one of them."""

from __future__ import annotations

PARTS = {
    "I": "Preliminaries",
    "II": "Linear Neural Network",
    "III": "Multi-Layer Perceptron",
    "IV": "Convolution Neural Network",
    "V": "Recurrent Neural Network",
}
# I A (Introduction) and I C-E (model, optimization, types of learning) hold no maths or code.
SECTIONS = {
    "I B": "Data",
    "II A": "Linear Regression",
    "II B": "Softmax Regression",
    "II C": "Implementation",
    "III A": "Underfitting, Overfitting",
    "III B": "Weight decay, Dropout",
    "III C": "Forward Propagation",
    "III D": "Backward Propagation",
    "III E": "Initialization techniques and Numerical Stability",
    "III F": "Implementation",
    "IV A": "Convolution Operation",
    "IV B": "Padding and Stride",
    "IV C": "Pooling",
    "IV D": "Fully Connected Network",
    "IV E": "Implementation",
    "V A": "Motivation",
    "V B": "Design",
    "V C": "Perplexity Measure",
    "V D": "Implementation",
}


def labels(section: str) -> list[str]:
    """The course sections an experiment's label names: "III B/F" -> ["III B", "III F"]."""
    part, letters = section.split(" ", 1)
    return [f"{part} {letter}" for letter in letters.split("/")]
