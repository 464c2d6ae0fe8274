"""The comparison report: chart data of real fitted models (``mlops.evaluation.curves``) and the one
self-contained, escaped HTML page that sets the candidate beside the champion
(``mlops.reports.comparison``)."""

from __future__ import annotations

import copy
import functools
import json
import math
import re
import time
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from sklearn.datasets import make_classification, make_regression
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.naive_bayes import GaussianNB
from sklearn.tree import DecisionTreeRegressor

from mlops.evaluation import curves, metrics, uncertainty
from mlops.reports import comparison

QUERY = 'a < 3 & b == "<script>"'
REASON = 'slice "<b>night</b>" got worse & the size is over its bound'
TRAIN = 1000  # rows each model fits on; the rest are the test rows


@functools.cache
def fitted(task: str):
    """Return the test target and the candidate's and champion's outputs of two real fitted models."""
    if task == "regression":
        features, target = make_regression(1800, 6, noise=25.0, random_state=0)
        models = (Ridge(alpha=1.0), DecisionTreeRegressor(max_depth=3, random_state=0))
    else:
        features, labels = make_classification(1800, 8, n_informative=4, flip_y=0.05, random_state=0)
        target = np.where(labels == 1, "yes", "no")
        models = (LogisticRegression(), GaussianNB())
    found = [
        metrics.outputs(task, model.fit(features[:TRAIN], target[:TRAIN]), features[TRAIN:])
        for model in models
    ]
    return target[TRAIN:], *found


def scored(task: str, target, found) -> dict[str, float]:
    return {name: metrics.measure(task, name, found, target) for name in metrics.names(task)}


@functools.cache
def evaluation(task: str, primary: str, excluded: int) -> dict:
    """An evaluation as ``dataclasses.asdict`` gives it: the candidate on all 800 test rows, both models
    on the rows after the first ``excluded`` (the champion trained on those), a worse slice, a slice
    with too few rows, an undefined one, and the cost of serving."""
    target, ours, theirs = fitted(task)
    rows = np.arange(excluded, len(target))
    compared, ours, theirs = target[rows], ours.take(rows), theirs.take(rows)
    interval = uncertainty.improvement(
        task, primary, compared, ours, theirs, level=0.95, resamples=100, seed=0
    )
    return {
        "metrics": scored(task, *fitted(task)[:2]),
        "champion_version": "4",
        "champion_metrics": scored(task, compared, theirs),
        "champion_error": None,
        "compared_metrics": scored(task, compared, ours) if excluded else None,
        "compared_rows": len(rows),
        "excluded_rows": excluded,
        "note": ""
        if excluded
        else "the champion's training rows are not recorded: compared on every test row",
        "interval": interval.as_dict(),
        "slices": [
            {
                "name": "night <i>",
                "query": QUERY,
                "min_rows": 50,
                "tolerance": 0.01,
                "rows": 312,
                "candidate": 0.71,
                "champion": 0.79,
                "interval": {
                    "estimate": -0.08,
                    "low": -0.12,
                    "high": -0.04,
                    "level": 0.95,
                    "resamples": 100,
                    "rows": 312,
                },
                "gated": True,
                "status": "worse",
            },
            {
                "name": "airport",
                "query": "x0 > 2.5",
                "min_rows": 50,
                "tolerance": 0.0,
                "rows": 12,
                "candidate": 0.5,
                "champion": 0.6,
                "interval": None,
                "gated": False,
                "status": "too few rows",
            },
            {
                "name": "one class",
                "query": "x1 < -3",
                "min_rows": 5,
                "tolerance": 0.0,
                "rows": 9,
                "candidate": None,
                "champion": math.nan,
                "interval": None,
                "gated": False,
                "status": "undefined",
            },
        ],
        "cost": {
            "candidate": {
                "latency_p50_ms": 0.42,
                "latency_p95_ms": 0.91,
                "rows_per_second": 251234.5,
                "size_bytes": 3_400_000.0,
                "load_memory_bytes": 5_100_000.0,
            },
            "champion": {
                "latency_p50_ms": 0.4,
                "latency_p95_ms": 0.8,
                "rows_per_second": 260000.0,
                "size_bytes": 1_100_000.0,
                "load_memory_bytes": None,
            },
            "ratios": {"latency_p50": 1.05, "latency_p95": 1.14, "throughput": 1.03, "size": 3.09},
            "bounds": {"size": 2.0, "latency_p95": 1.5},
        },
    }


@functools.cache
def chart_data(task: str, excluded: int) -> dict:
    """Both models' chart data on the compared rows (after the first ``excluded``)."""
    target, ours, theirs = fitted(task)
    rows = np.arange(excluded, len(target))
    return {
        "candidate": curves.summarize(task, target[rows], ours.take(rows), seed=0),
        "champion": curves.summarize(task, target[rows], theirs.take(rows), seed=0),
    }


def case(task: str, name: str, primary: str, decision: dict, excluded: int) -> dict:
    """The arguments of ``comparison.render`` for candidate version 5 of a real fitted model (a copy:
    its data is computed once)."""
    return copy.deepcopy(
        {
            "name": name,
            "version": "5",
            "task": task,
            "primary_metric": primary,
            "evaluation": evaluation(task, primary, excluded),
            "decision": decision,
            "curves": chart_data(task, excluded),
        }
    )


def regression_case() -> dict:
    promote = {"verdict": "promote", "reason": "rmse improved by 4.1, 95% interval [3.2, 5.0]"}
    return case("regression", "taxi-fare", "rmse", promote, excluded=0)


def classification_case() -> dict:
    reject = {"verdict": "reject", "reason": REASON}
    return case("classification", "<i>credit</i>", "roc_auc", reject, excluded=200)


def championless(case: dict) -> dict:
    alone = {
        "metrics": case["evaluation"]["metrics"],
        "slices": [
            {**found, "champion": None, "interval": None, "status": "no champion"}
            for found in case["evaluation"]["slices"]
        ],
        "cost": {"candidate": case["evaluation"]["cost"]["candidate"], "champion": None},
    }
    return {
        **case,
        "evaluation": alone,
        "curves": {"candidate": case["curves"]["candidate"], "champion": None},
    }


def svgs(page: str) -> list[ET.Element]:
    return [ET.fromstring(fragment) for fragment in re.findall(r"<svg\b.*?</svg>", page, flags=re.DOTALL)]


def titles(page: str) -> list[str]:
    return [chart.find("title").text for chart in svgs(page)]


def drawn(chart: ET.Element, side: str) -> int:
    """How many curves, areas and dots of ``side`` a chart draws (legend keys left out)."""
    classes = [
        (shape.get("class") or "").split() for shape in (*chart.iter("polyline"), *chart.iter("circle"))
    ]
    return sum(side in found and "key" not in found for found in classes)


def rows_of(page: str) -> list[str]:
    """Every table row's class and text, tags stripped and white space folded."""
    found = re.findall(r"<tr( class=\"[^\"]*\")?>(.*?)</tr>", page, flags=re.DOTALL)
    return [" ".join(f"{css} {re.sub(r'<[^>]+>', ' ', cells)}".split()) for css, cells in found]


def test_regression_page_draws_scatter_and_residuals_of_both_models():
    page = comparison.render(**regression_case())
    assert page.startswith("<!doctype html>")
    assert 'class="verdict promote"' in page and "✓ Promote" in page
    assert "rmse improved by 4.1, 95% interval [3.2, 5.0]" in page
    assert titles(page) == ["Predicted against actual", "Residuals"]
    for chart in svgs(page):
        assert chart.get("role") == "img" and chart.find("desc").text
        assert drawn(chart, "candidate") and drawn(chart, "champion")
    scatter = svgs(page)[0]
    assert drawn(scatter, "candidate") == drawn(scatter, "champion") == curves.SAMPLE
    labels = {text.text for chart in svgs(page) for text in chart.iter("text")}
    assert {"actual", "predicted", "density", "candidate (version 5)", "champion (version 4)"} <= labels
    rows = rows_of(page)
    assert "Compared rows 800" in rows and "Excluded rows 0 (test rows the champion trained on)" in rows
    assert "Note the champion&#39;s training rows are not recorded: compared on every test row" in rows
    assert "candidate, compared rows" not in page


def test_classification_page_draws_roc_precision_recall_and_calibration():
    page = comparison.render(**classification_case())
    assert titles(page) == ["ROC curve", "Precision-recall curve", "Calibration"]
    for chart in svgs(page):
        assert drawn(chart, "candidate") and drawn(chart, "champion")
        assert len([line for line in chart.iter("line") if line.get("class") == "reference"]) == 1
    assert 'class="verdict reject"' in page and "✗ Reject" in page
    primary = next(row for row in rows_of(page) if row.startswith('class="primary"'))
    assert "roc_auc" in primary and "primary" in primary and "higher is better" in primary
    found = classification_case()["evaluation"]
    ours, compared, theirs = (
        found[key]["roc_auc"] for key in ("metrics", "compared_metrics", "champion_metrics")
    )
    difference = compared - theirs
    judged = "better" if difference > 0 else "worse"
    assert primary.endswith(f"{ours:.4g} {compared:.4g} {theirs:.4g} {difference:+.4g} {judged}")
    assert "candidate, every test row" in page and "candidate, compared rows" in page
    assert "Compared rows 600" in rows_of(
        page
    ) and "Excluded rows 200 (test rows the champion trained on)" in rows_of(page)
    assert re.search(
        r"Improvement of roc_auc \(positive: better\): [+-][\d.e-]+, "
        r"95% interval \[[+-]?[\d.e-]+, [+-]?[\d.e-]+\] over 600 rows",
        page,
    )


def test_every_user_string_is_escaped_and_nothing_is_fetched():
    page = comparison.render(**classification_case())
    assert "<script" not in page and "<i>" not in page and "<b>" not in page
    assert "a &lt; 3 &amp; b == &#34;&lt;script&gt;&#34;" in page
    assert "&lt;i&gt;credit&lt;/i&gt;" in page
    assert "slice &#34;&lt;b&gt;night&lt;/b&gt;&#34; got worse &amp; the size" in page
    for forbidden in ("http://", "https://", "<link", "@import", "url(", "src="):
        assert forbidden not in page


def test_worse_slices_and_costs_over_their_bound_are_marked():
    rows = rows_of(comparison.render(**classification_case()))
    worse = next(row for row in rows if "night" in row)
    assert worse.startswith('class="breached"') and "✗ worse" in worse and "-0.08, 95% interval" in worse
    few = next(row for row in rows if "airport" in row)
    assert few.startswith('class="muted"') and "reported, not gated" in few and "12 (gated from 50)" in few
    undefined = next(row for row in rows if "one class" in row)
    assert "undefined on the slice" in undefined and "— —" in undefined
    size = next(row for row in rows if "model file size" in row)
    assert (
        size.startswith('class="breached"') and "3.4 MB" in size and "3.09 ✗ over" in size and "≤ 2" in size
    )
    memory = next(row for row in rows if "memory to load" in row)
    assert "5.1 MB" in memory and "—" in memory and "breached" not in memory


def test_missing_and_nan_values_print_a_dash_never_nan():
    case = classification_case()
    broken = {
        **case["evaluation"],
        "metrics": {"roc_auc": math.nan, "accuracy": None, "brand_new": 0.5},
        "champion_metrics": {"roc_auc": 0.9},
        "interval": {
            "estimate": math.nan,
            "low": None,
            "high": math.nan,
            "level": None,
            "resamples": 0,
            "rows": None,
        },
        "compared_rows": None,
        "cost": {"candidate": {"latency_p50_ms": math.nan}, "champion": None, "ratios": None, "bounds": None},
    }
    page = comparison.render(**{**case, "evaluation": broken, "decision": {}, "curves": {"candidate": None}})
    assert not re.search(r"\bnan\b", page, flags=re.IGNORECASE)
    assert "Improvement of roc_auc (positive: better): —, unknown interval [—, —]" in page
    assert "No reason was given." in page and "⚠ Verdict: unknown" in page
    assert "No chart data." in page and not svgs(page)


def test_without_a_champion_only_the_candidate_is_drawn():
    page = comparison.render(**championless(classification_case()))
    assert "no champion yet" in page and "Excluded rows" not in page
    charts = svgs(page)
    assert len(charts) == 3
    for chart in charts:
        assert drawn(chart, "candidate") and not drawn(chart, "champion")
        assert "champion (version" not in {text.text for text in chart.iter("text")}
    assert "difference" not in page and "Improvement of" not in page
    assert any("no champion" in row for row in rows_of(page) if "airport" in row)


def test_chart_data_is_json_ready_and_small():
    for task in ("regression", "classification"):
        data = chart_data(task, 0)
        text = json.dumps(data, allow_nan=False)
        assert len(text) < 20_000
        assert json.loads(text) == data


def plain(value) -> bool:
    if isinstance(value, dict):
        return all(isinstance(key, str) and plain(item) for key, item in value.items())
    if isinstance(value, list):
        return all(plain(item) for item in value)
    return value is None or type(value) in (str, int, float)


def test_classifier_curves_run_from_corner_to_corner_and_bins_hold_every_row():
    target, ours, _ = fitted("classification")
    summary = curves.summarize("classification", target, ours, seed=0)
    assert plain(summary)
    assert summary["positive"] == "yes" and summary["positives"] == int((target == "yes").sum())
    roc = list(zip(summary["roc"]["fpr"], summary["roc"]["tpr"], strict=True))
    assert roc[0] == (0.0, 0.0) and roc[-1] == (1.0, 1.0)
    assert summary["pr"]["recall"][0] == 1.0 and summary["pr"]["recall"][-1] == 0.0
    bins = summary["calibration"]
    assert sum(bins["count"]) == summary["rows"] == len(target)
    assert all(0 <= value <= 1 for value in bins["predicted"] + bins["observed"])
    assert bins["predicted"] == sorted(bins["predicted"])


def test_regressor_sample_is_seeded_and_residuals_hold_every_row():
    target, ours, _ = fitted("regression")
    summary = curves.summarize("regression", target, ours, seed=3)
    assert plain(summary)
    assert summary == curves.summarize("regression", target, ours, seed=3)
    assert summary["points"] != curves.summarize("regression", target, ours, seed=4)["points"]
    assert len(summary["points"]["actual"]) == curves.SAMPLE
    residuals = summary["residuals"]
    assert sum(residuals["counts"]) == summary["rows"] == len(target)
    assert len(residuals["edges"]) == curves.RESIDUAL_BINS + 1


def test_long_curves_are_thinned_to_their_shape_fast():
    generator = np.random.default_rng(0)
    target = generator.integers(0, 2, 10_000)
    scores = np.clip(target * 0.3 + generator.random(10_000) * 0.7, 0, 1)
    found = metrics.Outputs((scores > 0.5).astype(int), np.column_stack([1 - scores, scores]), [0, 1])
    curves.summarize("classification", target, found, seed=0)
    started = time.perf_counter()
    summary = curves.summarize("classification", target, found, seed=0)
    assert time.perf_counter() - started < 0.1
    for curve in (summary["roc"], summary["pr"]):
        xs, ys = curve.values()
        assert 100 <= len(xs) == len(ys) <= curves.POINTS
    assert (summary["roc"]["fpr"][0], summary["roc"]["tpr"][-1]) == (0.0, 1.0)
    regression = metrics.Outputs(target + generator.normal(size=10_000))
    started = time.perf_counter()
    curves.summarize("regression", target.astype(float), regression, seed=0)
    assert time.perf_counter() - started < 0.1


def test_multiclass_draws_the_class_with_most_rows_and_one_class_has_no_roc():
    target = np.array(["a"] * 5 + ["b"] * 30 + ["c"] * 10)
    probabilities = np.tile([0.2, 0.5, 0.3], (len(target), 1))
    summary = curves.summarize(
        "classification", target, metrics.Outputs(target, probabilities, ["a", "b", "c"]), 0
    )
    assert summary["positive"] == "b" and summary["positives"] == 30
    lonely = curves.summarize(
        "classification", target[5:35], metrics.Outputs(target[5:35], probabilities[5:35], ["a", "b", "c"]), 0
    )
    assert lonely["roc"] is None and lonely["pr"] is not None


@pytest.mark.parametrize("verdict", ["promote", "reject", "investigate", "maybe"])
def test_verdict_box_has_the_verdict_colour(verdict):
    page = comparison.render(**{**regression_case(), "decision": {"verdict": verdict, "reason": "because"}})
    style = verdict if verdict != "maybe" else "investigate"
    assert f'<div class="verdict {style}">' in page and "<p>because</p>" in page


def test_write_returns_the_path_of_the_page(tmp_path):
    case = regression_case()
    path = comparison.write(tmp_path / "out" / "comparison.html", **case)
    assert path.read_text(encoding="utf-8") == comparison.render(**case)
    assert [child.name for child in path.parent.iterdir()] == ["comparison.html"]
