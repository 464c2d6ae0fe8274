"""validate: check the split against the model's schema before anything is trained; with --output, pass
the checked split on (so a pipeline trains only on data that passed)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlops.core.errors import MlopsError
from mlops.models.data import LINE

if TYPE_CHECKING:
    import argparse

    import pandas as pd
    from omegaconf import DictConfig

    from mlops.steps.prep import Split


def problems(cfg: DictConfig, frame: pd.DataFrame, source: str) -> list[str]:
    """Return every way ``frame`` breaks the schema, each naming the column and the source."""
    from mlops.models.features import column_kinds

    schema = cfg.schema
    if frame.empty:
        return [f"{source} has no rows"]
    found: list[str] = []
    kinds = column_kinds(cfg)
    roles = [(schema.target, "schema.target")] + [
        (column, f"schema.{kind}") for column, kind in kinds.items()
    ]
    missing = [f"'{column}' ({key})" for column, key in roles if column not in frame.columns]
    if len(missing) == 1:
        return [f"column {missing[0]} is not in {source}"]
    if missing:
        return [f"columns {', '.join(missing)} are not in {source}"]
    for column, kind in kinds.items():
        problem = kind_problem(frame[column], kind)
        if problem:
            found.append(f"column '{column}' (schema.{kind}) in {source} {problem}")
    missing_target = int(frame[schema.target].isna().sum())
    if missing_target:
        found.append(f"target column '{schema.target}' in {source} has {missing_target} missing values")
    if cfg.task == "classification" and frame[schema.target].nunique() < 2:
        found.append(f"target column '{schema.target}' in {source} has fewer than two classes")
    limit = schema.get("max_null_rate", 0.0)
    for column, _ in roles[1:]:
        rate = float(frame[column].isna().mean())
        if rate > limit:
            found.append(
                f"column '{column}' in {source} is {rate:.1%} null, above schema.max_null_rate {limit:.1%}"
            )
    return found


def kind_problem(values: pd.Series, kind: str) -> str | None:
    """Return how a column's values break its declared kind (with the first bad value and where it is),
    or None when they fit: numbers for numeric, date-times, truth values, and text that is not only
    numbers."""
    import pandas as pd

    from mlops.models.columns import to_booleans, to_datetimes

    def example(bad: pd.Series) -> str:
        bad = values[bad].sort_index()
        place = "line" if values.index.name == LINE else "row"  # a CSV file's line, else the row label
        return f": value {bad.iloc[0]!r} at {place} {bad.index[0]}" if len(bad) else ""

    if kind == "numeric":
        if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
            return "is not numeric" + example(pd.to_numeric(values, errors="coerce").isna() & values.notna())
    elif kind == "datetime":
        unread = to_datetimes(values).isna() & values.notna()
        if unread.any():
            return f"is not a date-time{example(unread)}; write ISO 8601, such as 2016-01-31T14:05:00"
    elif kind == "boolean":
        unread = to_booleans(values).isna() & values.notna()
        if unread.any():
            return f"is not true or false{example(unread)}; write true/false or 1/0"
    elif kind == "text":
        present = values.dropna()
        if len(present) and pd.to_numeric(present, errors="coerce").notna().all():
            return (
                "holds only numbers, not free text; list it under schema.numeric (or schema.categorical "
                "for codes)"
            )
    return None


def run(cfg: DictConfig, split: Split) -> None:
    """Raise MlopsError listing every schema problem of the split's rows, or naming a declared slice whose
    query cannot be evaluated on its features; return when clean."""
    import pandas as pd

    from mlops.evaluation import slices

    found = problems(cfg, pd.concat([split.train, split.test]), split.info["source"])
    if found:
        raise MlopsError(f"{cfg.name}: " + "\n  ".join(found))
    try:
        slices.check(cfg, split.test.drop(columns=[cfg.schema.target]))
    except MlopsError as error:
        raise MlopsError(f"{cfg.name}: {error}") from None


def _main(cfg: DictConfig, args: argparse.Namespace) -> None:
    from mlops.steps import prep

    split = prep.read(args.data)
    run(cfg, split)
    if args.output:
        prep.write(split, args.output)
    print(f"{cfg.name}: the data matches the schema")


if __name__ == "__main__":
    from mlops.steps import entry

    entry(__doc__, ["data"], _main, optional=["output"])
