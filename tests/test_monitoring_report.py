"""The monitoring report is one self-contained, escaped HTML page with a well-formed SVG chart per column."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

from mlops.monitoring import compute, report
from mlops.monitoring.metrics import Histogram

NASTY = '<b>&"x"'


def metric(signal, feature, metric, value, threshold, breached=False, data_type="numerical"):
    """A summary row as the monitor writes it, with the verdict the test wants the page to show."""
    return {**compute.row(signal, feature, data_type, metric, value, threshold), "breached": breached}


def summary(**changes):
    base = {
        "model": "taxi-fare",
        "version": "3",
        "breached": True,
        "window": {"start": "2026-11-16T13:00:00Z", "end": "2026-11-23T13:00:00Z"},
        "production": {
            "source": "exports/prod/*.jsonl",
            "files": 3,
            "rows": 2500,
            "outside_window": 120,
            "without_timestamp": 0,
            "unreadable_lines": 1,
            "without_prediction": 0,
            "scored": 0,
            "unknown_fields": {"extra": 4},
            "model_versions": {"3": 2500},
        },
        "baseline": {"training_rows": 16000, "sample_rows": 16000},
        "breaches": {"data_drift": ["distance"], "prediction_drift": ["prediction"]},
        "rows": [
            metric("data_drift", "distance", "normalized_wasserstein_distance", 0.83, 0.1, True),
            metric("data_drift", "distance", "two_sample_kolmogorov_smirnov_test", 1e-190, 0.05, True),
            metric("data_drift", "vendor", "jensen_shannon_distance", 0.01, 0.1, data_type="categorical"),
            metric("prediction_drift", "prediction", "normalized_wasserstein_distance", 0.4, 0.1, True),
            metric("data_quality", "vendor", "null_value_rate", 0.0, 0.0, data_type="categorical"),
            metric("model_performance", "prediction", "rmse", 2.1, None),
        ],
        "notes": ["vendor has categories the baseline never saw"],
        "run_id": "abc123",
        "created": "2026-11-23T13:00:05Z",
    }
    return base | changes


def histograms():
    edges = [0.5 + 4.0 * i for i in range(11)]
    return {
        "vendor": Histogram("categorical", ["cmt", "vts", NASTY], [900, 100, 0], [400, 500, 100]),
        "distance": Histogram(
            "numerical", edges, [5, 20, 40, 60, 40, 20, 10, 3, 1, 1], [0, 1, 2, 5, 9, 20, 40, 60, 30, 5]
        ),
        "prediction": Histogram(
            "numerical", edges, [10, 20, 30, 20, 10, 5, 3, 1, 1, 0], [0, 5, 10, 30, 20, 10, 5, 2, 1, 1]
        ),
    }


class Rows(HTMLParser):
    """Collect every table row's class and text."""

    def __init__(self):
        super().__init__()
        self.rows: list[tuple[str, str]] = []
        self.open: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.open = [dict(attrs).get("class") or ""]

    def handle_data(self, data):
        if self.open is not None:
            self.open.append(data)

    def handle_endtag(self, tag):
        if tag == "tr" and self.open is not None:
            self.rows.append((self.open[0], " ".join(part.strip() for part in self.open[1:] if part.strip())))
            self.open = None


def table_rows(page):
    parser = Rows()
    parser.feed(page)
    return parser.rows


def svgs(page):
    return [ET.fromstring(fragment) for fragment in re.findall(r"<svg\b.*?</svg>", page, flags=re.DOTALL)]


def test_page_fetches_nothing_and_runs_no_script():
    page = report.render(summary(), histograms())
    assert page.startswith("<!doctype html>")
    for forbidden in ("http://", "https://", "<script", "<link", "@import", "url(", "src="):
        assert forbidden not in page


def inside(chart):
    width, height = float(chart.get("width")), float(chart.get("height"))
    boxes = [[float(rect.get(name)) for name in ("x", "y", "width", "height")] for rect in chart.iter("rect")]
    return all(0 <= x <= x + w <= width and 0 <= y <= y + h <= height for x, y, w, h in boxes)


def test_one_well_formed_accessible_svg_per_histogram():
    charts = svgs(report.render(summary(), histograms()))
    assert len(charts) == 3
    for chart in charts:
        title = chart.find("title")
        assert title is not None and "baseline and production" in title.text
        assert chart.get("role") == "img"
        assert chart.findall("rect")
        assert inside(chart)


def test_breached_features_are_marked_in_words_and_come_first():
    page = report.render(summary(), histograms())
    rows = table_rows(page)
    assert ("breached", "distance numerical normalized_wasserstein_distance 0.83 max 0.1 ✗ breached") in rows
    assert (
        "breached",
        "distance numerical two_sample_kolmogorov_smirnov_test 1e-190 min 0.05 ✗ breached",
    ) in rows
    assert ("", "vendor categorical null_value_rate 0 max 0 ✓ ok") in rows
    assert "✗ Thresholds breached" in page
    assert "Data drift: distance" in page and "Prediction drift: prediction" in page
    titles = [chart.find("title").text for chart in svgs(page)]
    assert titles[-1].startswith("vendor:")


def test_both_thresholds_are_shown_and_a_breach_within_noise_says_so():
    rows = summary()["rows"]
    for row, noise in zip(rows[:4], (0.35, None, 0.2, 0.5), strict=True):
        if noise is not None:
            row["noise_threshold"], row["effective_threshold"] = noise, max(row["threshold"], noise)
    page = report.render(summary(rows=rows, noise={"quantile": 0.99, "draws": 500}), histograms())
    table = table_rows(page)
    assert ("", "feature type metric value threshold noise threshold status") in table
    assert (
        "breached",
        "distance numerical normalized_wasserstein_distance 0.83 max 0.1 max 0.35 ✗ breached",
    ) in table
    assert ("", "vendor categorical jensen_shannon_distance 0.01 max 0.1 max 0.2 ✓ ok") in table
    assert (
        "breached",
        "prediction numerical normalized_wasserstein_distance 0.4 max 0.1 max 0.5 ✗ breached, within noise",
    ) in table  # Azure's verdict kept, and why it does not count
    assert (
        "",
        "vendor categorical null_value_rate 0 max 0 ✓ ok",
    ) in table  # a table without noise thresholds
    assert ("", "Data quality null_value_rate 0 max 0 — ✓ ok") in table  # vendor's section, with its distance
    assert "the 0.99 quantile of the window over 500 seeded samples" in page
    assert "noise threshold" not in report.render(summary(), histograms())  # a summary from before the noise


def test_calm_run_says_so():
    calm = summary(breached=False, breaches={}, rows=[metric("data_drift", "distance", "psi", 0.01, 0.2)])
    page = report.render(calm, histograms())
    assert "✓ No threshold breached" in page
    assert "✗" not in page


def test_labels_and_text_are_escaped():
    page = report.render(summary(model="<i>taxi</i>", notes=[NASTY]), histograms())
    assert NASTY not in page
    assert "<i>taxi" not in page
    assert "&lt;b&gt;&amp;&#34;x&#34;" in page
    vendor = next(chart for chart in svgs(page) if chart.find("title").text.startswith("vendor"))
    assert NASTY in [text.text for text in vendor.iter("text")]
    assert any(tip.text.startswith(NASTY + ": production 10%") for tip in vendor.iter("title"))
    assert "Categories seen in production only: 1." in page


def test_one_bin_and_empty_production_render():
    odd = {
        "constant": Histogram("numerical", [4.995, 5.005], [100], [0]),
        "unseen": Histogram("categorical", ["a"], [10], [0]),
    }
    page = report.render(summary(), odd)
    charts = svgs(page)
    assert len(charts) == 2
    assert page.count("No production values: its bars are all zero.") == 2
    constant = charts[0]
    assert [text.text for text in constant.iter("text") if text.text in ("4.995", "5.005")] == [
        "4.995",
        "5.005",
    ]


def test_an_hour_column_is_ticked_at_whole_hours_where_they_fall():
    edges = [23 / 6 * i for i in range(7)]  # Azure's 6 equal-width bins over hours 0 to 23: 3.833 wide
    hours = {"pickup_hour": Histogram("numerical", edges, [5, 9, 12, 14, 11, 6], [6, 8, 12, 15, 10, 6])}
    (chart,) = svgs(report.render(summary(), hours))
    bottom = max(float(text.get("y")) for text in chart.iter("text"))
    ticks = [text for text in chart.iter("text") if float(text.get("y")) == bottom]
    assert [text.text for text in ticks] == ["0", "5", "10", "15", "20"]
    xs = [float(text.get("x")) for text in ticks]
    assert abs((xs[1] - xs[0]) * 23 / 5 - (report.WIDTH - report.LEFT - report.RIGHT)) < 1  # 5 of 23 hours
    assert any(tip.text.startswith("3.833 to 7.667: baseline") for tip in chart.iter("title"))


def test_many_categories_are_capped_and_the_rest_counted():
    labels = [f"zone-{i:03d}" for i in range(500)]
    many = {"zone": Histogram("categorical", labels, list(range(1, 501)), list(range(500, 0, -1)))}
    page = report.render(summary(), many)
    (chart,) = svgs(page)
    bars = [rect for rect in chart.iter("rect") if rect.find("title") is not None]
    assert len(bars) == 2 * (report.MAX_CATEGORIES + 1)
    assert inside(chart)
    assert "(480 others)" in [text.text for text in chart.iter("text")]
    assert "the other 480 of 500 are summed in the last bar" in page
    assert "zone-499" in page and "zone-000" in page and "zone-250" not in page


def test_long_labels_are_shortened_in_the_chart_but_whole_in_the_tooltip():
    label = "a-very-long-category-label-that-goes-on"
    (chart,) = svgs(report.render(summary(), {"c": Histogram("categorical", [label], [1], [1])}))
    assert report.shorten(label) in [text.text for text in chart.iter("text")]
    assert any(tip.text.startswith(label) for tip in chart.iter("title"))


def test_missing_values_read_n_a():
    rows = [
        metric("data_quality", "distance", "null_value_rate", None, 0.1),
        metric("data_drift", "distance", "population_stability_index", math.nan, None),
    ]
    page = report.render(summary(rows=rows, breaches={}, breached=False), histograms())
    table = table_rows(page)
    assert ("", "distance numerical null_value_rate n/a max 0.1 not computed") in table
    assert ("", "distance numerical population_stability_index n/a — not computed") in table
    assert "nan" not in page.lower().replace("n/a", "")


def test_numbers_are_compact():
    assert [report.compact(edge) for edge in (0.0, 1234.5, 12345.6, -2.5e6, 3e-7)] == [
        "0",
        "1234",
        "12.35k",
        "-2.5M",
        "3e-07",
    ]
    assert [report.number(value) for value in (None, math.nan, 1e-190, 0.8312345, 123456.7)] == [
        "n/a",
        "n/a",
        "1e-190",
        "0.8312",
        "123,457",
    ]
