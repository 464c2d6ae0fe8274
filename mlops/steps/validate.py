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
    import pandas as pd

    schema = cfg.schema
    if frame.empty:
        return [f"{source} has no rows"]
    found: list[str] = []
    roles = [(schema.target, "schema.target")]
    roles += [(column, "schema.numeric") for column in schema.get("numeric") or []]
    roles += [(column, "schema.categorical") for column in schema.get("categorical") or []]
    missing = [f"'{column}' ({key})" for column, key in roles if column not in frame.columns]
    if len(missing) == 1:
        return [f"column {missing[0]} is not in {source}"]
    if missing:
        return [f"columns {', '.join(missing)} are not in {source}"]
    for column in schema.get("numeric") or []:
        values = frame[column]
        if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
            bad = values[pd.to_numeric(values, errors="coerce").isna() & values.notna()].sort_index()
            place = "line" if frame.index.name == LINE else "row"  # a CSV file's line, else the row label
            example = f": value {bad.iloc[0]!r} at {place} {bad.index[0]}" if len(bad) else ""
            found.append(f"column '{column}' (schema.numeric) in {source} is not numeric{example}")
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
