"""batch_score: score the CSV and Parquet files of a folder with the champion, with the model's batch
deployment settings (the same scoring as ``mlops batch``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse

    from omegaconf import DictConfig


def _main(cfg: DictConfig, args: argparse.Namespace) -> None:
    from mlops.batch import job

    summary = job.score(cfg.name, str(args.input), args.output, overrides=args.overrides)
    print(f"{cfg.name}: scored {summary.scored} rows with version {summary.version}")


if __name__ == "__main__":
    from mlops.steps import entry

    entry(__doc__, ["input", "output"], _main)
