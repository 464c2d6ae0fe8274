"""A small neural network trained by its own loop in NumPy: the model's trainer (``config/trainer/``).

One hidden layer of tanh units and a linear output, fitted to the standardized target by mini-batch Adam
with weight decay; training stops once the validation rows' error has not improved for ``patience``
epochs and keeps the best epoch's weights. The model saves itself as ``weights.npz`` (NumPy arrays,
read back with ``allow_pickle=False``) and ``inputs.json`` (how the raw columns were scaled and encoded):
the framework never pickles it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

WEIGHTS = "weights.npz"
INPUTS = "inputs.json"


class Inputs:
    """How raw columns become the network's input matrix: numbers standardized (a missing one as the
    training mean), each categorical column one-hot over its training levels (an unseen level: all 0)."""

    def __init__(self, scaling: dict[str, list[float]], levels: dict[str, list[str]]) -> None:
        self.scaling = scaling
        self.levels = levels

    @classmethod
    def learn(cls, config: Any, train: pd.DataFrame) -> Inputs:
        """Return the scaling of the numeric columns and the levels of the categorical ones of ``train``."""
        scaling = {
            column: [float(train[column].mean()), float(train[column].std()) or 1.0]
            for column in config.schema.numeric
        }
        levels = {
            column: sorted(train[column].dropna().astype(str).unique())
            for column in config.schema.categorical
        }
        return cls(scaling, levels)

    def matrix(self, frame: pd.DataFrame) -> np.ndarray:
        """Return ``frame``'s rows as the network's input matrix."""
        parts = [
            ((pd.to_numeric(frame[column]).to_numpy("float64") - mean) / std)[:, None]
            for column, (mean, std) in self.scaling.items()
        ]
        for column, levels in self.levels.items():
            values = frame[column].astype(str).to_numpy()
            parts.append(np.stack([values == level for level in levels], axis=1).astype("float64"))
        return np.nan_to_num(np.hstack(parts), nan=0.0)


class Network:
    """The trained network: its weights, its input encoding and the target's scale."""

    def __init__(self, weights: dict[str, np.ndarray], inputs: Inputs, target: list[float]) -> None:
        self.weights = weights
        self.inputs = inputs
        self.target = target

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Return the predicted target of each row of ``frame``."""
        mean, std = self.target
        return forward(self.weights, self.inputs.matrix(frame))[1] * std + mean

    def save(self, folder: Path) -> None:
        """Write the weights as ``weights.npz`` and the encoding as ``inputs.json`` into ``folder``."""
        np.savez(Path(folder) / WEIGHTS, **self.weights)
        record = {"scaling": self.inputs.scaling, "levels": self.inputs.levels, "target": self.target}
        (Path(folder) / INPUTS).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> Network:
        """Return the network ``save`` wrote into ``folder``."""
        with np.load(Path(folder) / WEIGHTS, allow_pickle=False) as saved:
            weights = {name: saved[name] for name in saved.files}
        record = json.loads((Path(folder) / INPUTS).read_text(encoding="utf-8"))
        return cls(weights, Inputs(record["scaling"], record["levels"]), record["target"])


def forward(weights: dict[str, np.ndarray], x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the hidden layer's activations and the output (one value per row) of inputs ``x``."""
    hidden = np.tanh(x @ weights["w1"] + weights["b1"])
    return hidden, hidden @ weights["w2"] + weights["b2"]


def gradients(
    weights: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray, decay: float
) -> dict[str, np.ndarray]:
    """Return the gradient of the mean squared error (plus ``decay`` times the squared weights) of a batch."""
    hidden, output = forward(weights, x)
    error = 2 * (output - y) / len(y)
    back = np.outer(error, weights["w2"]) * (1 - hidden**2)
    return {
        "w1": x.T @ back + 2 * decay * weights["w1"],
        "b1": back.sum(axis=0),
        "w2": hidden.T @ error + 2 * decay * weights["w2"],
        "b2": np.array(error.sum()),
    }


def fit(
    train: pd.DataFrame,
    config: Any,
    validation: pd.DataFrame,
    *,
    hidden: int = 16,
    epochs: int = 2000,
    batch_size: int = 32,
    learning_rate: float = 0.005,
    weight_decay: float = 0.001,
    patience: int = 100,
) -> Network:
    """Train the network on ``train`` for at most ``epochs`` epochs; stop once ``validation``'s error
    has not improved for ``patience`` epochs and return the best epoch's network."""
    rng = np.random.default_rng(int(config.split.seed))
    inputs = Inputs.learn(config, train)
    target = train[config.schema.target].to_numpy("float64")
    scale = [float(target.mean()), float(target.std()) or 1.0]
    x, y = inputs.matrix(train), (target - scale[0]) / scale[1]
    x_check = inputs.matrix(validation)
    y_check = (validation[config.schema.target].to_numpy("float64") - scale[0]) / scale[1]
    weights = {
        "w1": rng.normal(0, 1 / np.sqrt(x.shape[1]), (x.shape[1], hidden)),
        "b1": np.zeros(hidden),
        "w2": rng.normal(0, 1 / np.sqrt(hidden), hidden),
        "b2": np.array(0.0),
    }
    moments = {name: (np.zeros_like(value), np.zeros_like(value)) for name, value in weights.items()}
    best, best_error, waited, step = dict(weights), np.inf, 0, 0
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch_size):
            rows = order[start : start + batch_size]
            step += 1
            for name, grad in gradients(weights, x[rows], y[rows], weight_decay).items():  # Adam
                first, second = moments[name]
                first = 0.9 * first + 0.1 * grad
                second = 0.999 * second + 0.001 * grad**2
                moments[name] = (first, second)
                corrected = (first / (1 - 0.9**step)) / (np.sqrt(second / (1 - 0.999**step)) + 1e-8)
                weights[name] = weights[name] - learning_rate * corrected
        error = float(np.mean((forward(weights, x_check)[1] - y_check) ** 2))
        if error < best_error:
            best, best_error, waited = {name: value.copy() for name, value in weights.items()}, error, 0
        else:
            waited += 1
            if waited >= patience:
                break
    return Network(best, inputs, scale)
