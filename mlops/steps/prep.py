"""prep: load the model's data and split it into train and test with a recorded seed."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops.core.errors import MlopsError
from mlops.models.features import normalize
from mlops.registry import artifacts

if TYPE_CHECKING:
    import argparse

    import pandas as pd
    from omegaconf import DictConfig


@dataclass
class Split:
    """The train and test rows of one run, and where they came from."""

    train: pd.DataFrame
    test: pd.DataFrame
    info: dict[str, Any] = field(default_factory=dict)


def load(cfg: DictConfig) -> tuple[pd.DataFrame, str]:
    """Return the model's table, built by ``data._target_``, and a description of its source."""
    import pandas as pd
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate

    source = str(cfg.data.get("path") or cfg.data._target_)
    try:
        frame = instantiate(cfg.data)
    except InstantiationException as error:
        cause = error.__cause__
        if isinstance(cause, MlopsError):
            raise cause from None
        raise MlopsError(f"{cfg.name}: cannot load data from {source}: {cause or error}") from None
    if not isinstance(frame, pd.DataFrame):
        raise MlopsError(
            f"{cfg.name}: {cfg.data._target_} returned {type(frame).__name__}, not a pandas DataFrame"
        )
    return normalize(cfg, frame), source


def run(cfg: DictConfig, sample: int | None = None) -> Split:
    """Load the data, optionally keep a seeded sample of ``sample`` rows, and split it; a
    classification target is stratified when every class can be."""
    from sklearn.model_selection import train_test_split

    from mlops.models.data import fingerprint

    frame, source = load(cfg)
    rows = len(frame)
    if sample is not None and sample < rows:
        frame = frame.sample(n=sample, random_state=cfg.split.seed)
    target = cfg.schema.target
    stratify = None
    if cfg.task == "classification" and target in frame and frame[target].notna().all():
        counts = frame[target].value_counts()
        stratify = frame[target] if counts.min() >= 2 else None
    try:
        train, test = train_test_split(
            frame, test_size=cfg.split.test_size, random_state=cfg.split.seed, stratify=stratify
        )
    except ValueError as error:
        raise MlopsError(f"{cfg.name}: cannot split {len(frame)} rows from {source}: {error}") from None
    info = {
        "source": source,
        "rows": rows,
        "sampled_rows": len(frame),
        "train_rows": len(train),
        "test_rows": len(test),
        "test_size": cfg.split.test_size,
        "seed": cfg.split.seed,
        "data_fingerprint": fingerprint(frame),
    }
    return Split(train, test, info)


def write(split: Split, folder: Path) -> None:
    """Write a split as ``train.parquet``, ``test.parquet`` and ``split.json``."""
    folder.mkdir(parents=True, exist_ok=True)
    split.train.to_parquet(folder / "train.parquet")
    split.test.to_parquet(folder / "test.parquet")
    (folder / artifacts.SPLIT_FILE).write_text(json.dumps(split.info, indent=2))


def read(folder: Path) -> Split:
    """Read a split written by ``write``."""
    import pandas as pd

    if not (folder / artifacts.SPLIT_FILE).is_file():
        raise MlopsError(f"{folder} holds no split; run python -m mlops.steps.prep first")
    return Split(
        pd.read_parquet(folder / "train.parquet"),
        pd.read_parquet(folder / "test.parquet"),
        json.loads((folder / artifacts.SPLIT_FILE).read_text()),
    )


def _main(cfg: DictConfig, args: argparse.Namespace) -> None:
    write(run(cfg), args.output)


if __name__ == "__main__":
    from mlops.steps import entry

    entry(__doc__, ["output"], _main)
