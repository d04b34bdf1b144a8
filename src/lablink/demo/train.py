"""A small, real training job: softmax regression on Iris in plain numpy.

The data is Fisher's Iris data set (150 flowers, 4 measurements, 3 species; UCI Machine
Learning Repository), bundled as ``iris.csv``. Nothing here knows about lablink: the
training loop reports each epoch to a callback, the way user code calls ``run.log``.
"""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

SPECIES = ("setosa", "versicolor", "virginica")
FEATURES = ("sepal_length", "sepal_width", "petal_length", "petal_width")

Array = NDArray[np.float64]


@dataclasses.dataclass(frozen=True)
class Split:
    """Features and integer labels of a train and a validation split."""

    x_train: Array
    y_train: NDArray[np.int64]
    x_val: Array
    y_val: NDArray[np.int64]


def load_iris(path: Path | None = None) -> tuple[Array, NDArray[np.int64]]:
    """The Iris CSV (default: the bundled copy) as a (150, 4) float matrix and labels."""
    source = path if path is not None else resources.files("lablink.demo").joinpath("iris.csv")
    text = source.read_text(encoding="utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    x = np.array([[float(row[f]) for f in FEATURES] for row in rows], dtype=np.float64)
    y = np.array([SPECIES.index(row["species"]) for row in rows], dtype=np.int64)
    return x, y


def split(
    x: Array, y: NDArray[np.int64], seed: int, val_fraction: float = 0.3, standardize: bool = True
) -> Split:
    """A seeded shuffle into train and validation, standardised with train statistics."""
    order = np.random.default_rng(seed).permutation(len(x))
    n_val = round(len(x) * val_fraction)
    val, train = order[:n_val], order[n_val:]
    x_train, x_val = x[train], x[val]
    if standardize:
        mean, std = x_train.mean(axis=0), x_train.std(axis=0)
        x_train, x_val = (x_train - mean) / std, (x_val - mean) / std
    return Split(x_train, y[train], x_val, y[val])


def softmax(logits: Array) -> Array:
    """Row-wise softmax, shifted by the row maximum for stability."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)  # type: ignore[no-any-return]


def evaluate(w: Array, b: Array, x: Array, y: NDArray[np.int64]) -> tuple[float, float]:
    """Cross-entropy loss and accuracy of the model ``x @ w + b``.

    A probability that underflowed to zero gives an infinite (or NaN) loss: the model
    diverged. ``train`` logs that value, then stops.
    """
    probs = softmax(x @ w + b)
    with np.errstate(divide="ignore", invalid="ignore"):
        loss = float(-np.log(probs[np.arange(len(y)), y]).mean())
    acc = float((probs.argmax(axis=1) == y).mean())
    return loss, acc


EpochCallback = Callable[[int, dict[str, float]], None]


def train(
    data: Split,
    lr: float,
    epochs: int,
    seed: int,
    weight_decay: float = 0.0,
    on_epoch: EpochCallback | None = None,
) -> dict[str, float]:
    """Full-batch gradient descent; returns the last epoch's metrics.

    Args:
        data: the train and validation split.
        lr: learning rate.
        epochs: passes over the training set.
        seed: seeds the weight initialisation.
        weight_decay: L2 penalty on the weights.
        on_epoch: called after each epoch with the epoch number and its metrics.

    Raises:
        FloatingPointError: the loss diverged (too high a learning rate).
    """
    rng = np.random.default_rng(seed)
    n_features, n_classes = data.x_train.shape[1], len(SPECIES)
    w = rng.normal(0.0, 0.01, size=(n_features, n_classes))
    b = np.zeros(n_classes)
    onehot = np.eye(n_classes)[data.y_train]
    metrics: dict[str, float] = {}
    for epoch in range(epochs):
        probs = softmax(data.x_train @ w + b)
        grad = (probs - onehot) / len(data.x_train)
        w -= lr * (data.x_train.T @ grad + weight_decay * w)
        b -= lr * grad.sum(axis=0)
        train_loss, train_acc = evaluate(w, b, data.x_train, data.y_train)
        val_loss, val_acc = evaluate(w, b, data.x_val, data.y_val)
        metrics = {
            "train/loss": train_loss,
            "train/acc": train_acc,
            "val/loss": val_loss,
            "val/acc": val_acc,
        }
        if on_epoch is not None:
            on_epoch(epoch, metrics)
        if not np.isfinite(train_loss):  # logged first, so the watchdog sees it too
            raise FloatingPointError(f"train/loss is {train_loss} at epoch {epoch}")
    return metrics
