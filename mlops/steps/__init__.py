"""The shared pipeline steps. Each is a plain function plus a thin ``python -m mlops.steps.<step>``
entry that reads and writes folders, so the same code runs in-process and as an Azure ML component."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mlops.core.errors import MlopsError

__all__ = ["batch_score", "entry", "evaluate", "monitor_preprocess", "prep", "register", "train", "validate"]

if TYPE_CHECKING:
    from omegaconf import DictConfig


def entry(
    doc: str,
    folders: Sequence[str],
    body: Callable[[DictConfig, argparse.Namespace], None],
    argv: Sequence[str] | None = None,
    optional: Sequence[str] = (),
    options: Sequence[str] = (),
) -> None:
    """Parse ``--model NAME``, the step's folder options (each ``--<folder> DIR``; those in
    ``optional`` may be left out) and text ``options``, compose the config with the trailing Hydra
    overrides, run ``body``; print user mistakes without a traceback."""
    from mlops.models import catalog

    parser = argparse.ArgumentParser(description=doc)
    parser.add_argument("--model", required=True, help="model name (folder under data-science/models)")
    for folder in folders:
        parser.add_argument(f"--{folder}", required=True, type=Path, help=f"{folder} folder")
    for folder in optional:
        parser.add_argument(f"--{folder}", type=Path, help=f"{folder} folder (optional)")
    for option in options:
        parser.add_argument(f"--{option}", required=True)
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. estimator.max_depth=8")
    args = parser.parse_args(argv)
    try:
        body(catalog.load_config(args.model, args.overrides), args)
    except MlopsError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
