"""The ``mlops monitor`` command (this module imports only click at the top, so ``--help`` stays fast)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from mlops.cli.targets import check_target, elsewhere, env_manager_option, target_options
from mlops.core.console import plural, progress_echo
from mlops.monitoring import ON_BREACH

if TYPE_CHECKING:
    from mlops.monitoring.summary import Summary


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("name")
@click.argument("overrides", nargs=-1, type=click.UNPROCESSED)
@click.option(
    "--production",
    "source",
    help="Production data: a file, folder or glob of JSON lines, CSV or Parquet with a timestamp column "
    "(default: what the model's local endpoint collected).",
)
@click.option(
    "--window",
    "lookback",
    help="ISO 8601 lookback ending at --end, e.g. P7D or PT12H [default: monitoring.window].",
)
@click.option("--start", "--from", "start", help="Window start (ISO 8601 time); instead of --window.")
@click.option(
    "--stamp",
    help="The time of production rows without a timestamp column: an ISO 8601 time, or now (the end of "
    "the window); a file exported for one day, say.",
)
@click.option("--end", "--to", "end", help="Window end (ISO 8601 time) [default: now].")
@click.option(
    "--backfill",
    is_flag=True,
    help="Monitor past windows: cut the window (--from/--to, or --window) into consecutive windows of "
    "--every and log each as its own monitor run, from one pass over the production data.",
)
@click.option("--every", help="With --backfill: each window's length (ISO 8601) [default: P1D].")
@click.option(
    "--history",
    "show_history",
    is_flag=True,
    help="Show the model's past monitor windows instead: each metric over time, thresholds and alerts "
    "marked, as a page of charts and a table.",
)
@click.option("--last", type=click.IntRange(min=1), help="With --history: windows shown [default: 30].")
@click.option(
    "--version",
    help="Registered version whose baseline to compare with [default: the champion]; with --model, "
    "the version number to report; with --target azure, the version whose training rows the schedule "
    "compares with (its reference data asset) [default: the version the online endpoint serves].",
)
@click.option(
    "--model",
    type=click.Path(path_type=Path),
    help="An MLflow model folder to compare with instead of a registered version (one mlops azure "
    "download fetched, say); its baseline is inside it. Nothing is logged to MLflow.",
)
@click.option(
    "--ground-truth",
    help="Files with the true target per row, joined on monitoring.key_column, for model performance.",
)
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), help="Folder for summary and report."
)
@click.option(
    "--on-breach",
    type=click.Choice(ON_BREACH),
    help="What to do on a breach [default: monitoring.on_breach].",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON for scripts.")
@click.option(
    "--own-data", is_flag=True, help="With --target azure: the schedule on your own production data."
)
@target_options
@env_manager_option
def monitor(
    name: str,
    overrides: tuple[str, ...],
    source: str | None,
    lookback: str | None,
    start: str | None,
    stamp: str | None,
    end: str | None,
    backfill: bool,
    every: str | None,
    show_history: bool,
    last: int | None,
    version: str | None,
    model: Path | None,
    ground_truth: str | None,
    out: Path | None,
    on_breach: str | None,
    as_json: bool,
    own_data: bool,
    target: str,
    env: str | None,
    dry_run: bool,
    env_manager: str,
) -> None:
    """Compare NAME's production data with its training baseline: data drift, prediction drift, data
    quality and (with --ground-truth) model performance, with Azure ML's metrics and thresholds.

    Writes summary.json and report.html, logs an MLflow run tagged with the version, and exits 1 when
    a breach alerts (monitoring.alerting: enough rows, persistence), 0 otherwise; with --backfill,
    when the newest window alerts. --history draws the logged windows over time. OVERRIDES are Hydra
    overrides of the model's config, e.g. monitoring.signals.data_drift.features=all_features;
    --on-breach retrain trains with them.
    --target azure creates or updates the model's monitor schedule in the workspace of --env instead,
    with its reference data: the training rows of --version (default: the version the endpoint serves).
    A model whose environment/requirements.txt this environment does not meet is monitored in its own
    (--env-manager).
    """
    import json

    from mlops import registry
    from mlops.models import catalog
    from mlops.monitoring import production
    from mlops.registry import registered

    catalog.model_dir(name)  # the mistakes answered before the monitoring libraries load
    environment = check_target(target, env, dry_run)
    if target == "azure":
        from mlops.azureml import render, submit, workspace

        client = None if dry_run else workspace.client(render.compose(name, environment))
        plan = submit.run(
            lambda folder: submit.monitor_plan(name, environment, folder, own_data, version, client),
            dry_run,
            click.echo,
            client,
        )
        if dry_run and version is None:
            reference = plan.steps[0][1]
            click.echo(
                f"{name}: the version of {reference.name} is decided at submission: the one the online "
                f"endpoint of {environment} serves (the schedule names the champion, {reference.version}, "
                "here; --version picks one)"
            )
        return

    for given, option, flag, on in (
        (every, "--every", "--backfill", backfill),
        (last, "--last", "--history", show_history),
    ):
        if given is not None and not on:
            raise click.UsageError(f"{option} goes with {flag}")
    if show_history:
        show(name, last, out, as_json)
        return
    if backfill and on_breach == "retrain":
        raise click.UsageError(
            "--on-breach retrain acts on the present, --backfill on past windows; backfill first, then run "
            "mlops monitor for the latest window with --on-breach retrain"
        )
    if source is not None:
        production.files(source)
    if model is None:
        registered.check(name, version, registry.CHAMPION)
    if done := elsewhere(name, env_manager):
        sys.exit(done.returncode)
    from mlops.monitoring import backfill as backfilling
    from mlops.monitoring import monitor as monitoring

    echo = progress_echo(as_json)
    outcomes = monitoring.run(
        name,
        source,
        lookback,
        start,
        end,
        version,
        ground_truth,
        out,
        overrides,
        echo,
        model,
        stamp,
        (every or backfilling.EVERY) if backfill else None,
    )
    if backfill:
        backfilled(name, [outcome.summary for outcome in outcomes], as_json)
        sys.exit(1 if outcomes[-1].alerted else 0)
    outcome = outcomes[0]
    summary = outcome.summary
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    else:
        report(summary, outcome.folder)
    action = on_breach or outcome.on_breach
    if outcome.retrain and action == "retrain":
        from mlops.training import run

        echo(f"{name}: retraining because a threshold was breached and alerted")
        monitoring.mark_retrained(summary)
        run.train_model(name, overrides, multirun=False, sample=None, echo=echo)
    sys.exit(1 if outcome.alerted else 0)


def show(name: str, last: int | None, out: Path | None, as_json: bool) -> None:
    """Print the model's last ``last`` monitor windows (``history.LAST`` when None) and write their
    history page."""
    from mlops.core import project
    from mlops.monitoring import history

    windows = history.summaries(name, last or history.LAST)
    path = history.write((out or project.state_dir() / "monitoring" / name) / "history.html", name, windows)
    if not windows and not as_json:
        click.echo(f"{name}: no monitor run is logged yet; run mlops monitor {name} (or --backfill)")
    table(name, windows, as_json, f"history {path}")


def backfilled(name: str, summaries: list[Summary], as_json: bool) -> None:
    """Print each backfilled window and where its history is drawn."""
    table(name, summaries, as_json, f"see them with mlops monitor {name} --history", "backfilled ")


def table(name: str, summaries: list[Summary], as_json: bool, then: str, done: str = "") -> None:
    """Print monitor windows a line each (times, rows, raw breaches, alert state), how many were
    ``done`` and how many breached and alerted, and ``then``; with ``as_json``, the windows as JSON."""
    import json

    from mlops.monitoring import history

    if as_json:
        click.echo(json.dumps([brief(summary) for summary in summaries], indent=2))
        return
    for summary in summaries:
        breaches = sum(row["breached"] for row in summary["rows"])
        click.echo(
            f"  {summary['window']['start']} to {summary['window']['end']}  "
            f"{summary['production']['rows']:>10,} rows  {breaches:>3} raw breaches  "
            + summary["alert"]["state"]
        )
    if summaries:
        tally = history.counts(summaries)
        click.echo(
            f"{name}: {done}{plural(tally['windows'], 'window')}, {tally['breached']} breached a threshold "
            f"(Azure's verdict), {plural(tally['alerts'], 'alert')}"
        )
    click.echo(then)


def brief(summary: Summary) -> dict[str, Any]:
    """Return one window as JSON for scripts: its times, rows, breaches and alert."""
    return {
        "window": summary["window"],
        "version": summary["version"],
        "rows": summary["production"]["rows"],
        "breaches": summary["breaches"],
        "alert": summary["alert"],
        "run_id": summary["run_id"],
    }


def report(summary: Summary, folder: Path) -> None:
    """Print what was read, each breach, and where the results are."""
    production = summary["production"]
    skipped = [
        f"{production['outside_window']:,} outside the window" if production["outside_window"] else "",
        f"{production['without_timestamp']:,} without a timestamp" if production["without_timestamp"] else "",
        plural(production["unreadable_lines"], "unreadable line") if production["unreadable_lines"] else "",
    ]
    extra = ", ".join(item for item in skipped if item)
    click.echo(
        f"{summary['model']}: read {plural(production['rows'], 'production row')} from "
        f"{plural(production['files'], 'file')} "
        f"({summary['window']['start']} to {summary['window']['end']})"
        + (f"; skipped {extra}" if extra else "")
    )
    label = f"v{summary['version']}" if summary["version"] else "(from --model)"
    if production["scored"]:
        click.echo(f"  scored {production['scored']:,} rows that had no prediction with {label}")
    if production["unknown_fields"]:
        fields = ", ".join(sorted(production["unknown_fields"]))
        click.echo(f"  ignored fields the model does not use: {fields}")
    for note in summary["notes"]:
        click.echo(f"  note: {note}")
    for row in summary["rows"]:
        if row["breached"]:
            noise = row.get("noise_threshold")
            within = noise is not None and row["value"] is not None and row["value"] <= noise
            shown = (
                f"; noise threshold {noise:.4g}{', within noise' if within else ''}"
                if noise is not None
                else ""
            )
            click.echo(
                f"  BREACHED {row['signal']}: {row['feature']} {row['metric']} = {row['value']:.4g} "
                f"(threshold {row['threshold']:.4g}{shown})"
            )
    verdict = "threshold breached" if summary["breached"] else "no threshold breached"
    alert = summary["alert"]
    click.echo(f"{summary['model']} {label}: {verdict}; alert: {alert['state']} ({alert['reason']})")
    click.echo(f"report {folder / 'report.html'}")
