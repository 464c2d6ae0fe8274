"""Self-contained HTML report pages (the monitoring report, the comparison report, the model card):
the Jinja2 template they render with and the numbers they print (``mlops.core.atomic`` writes them)."""

from __future__ import annotations

import math
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jinja2


def template(package: str, name: str) -> jinja2.Template:
    """Return the Jinja2 template ``name`` of ``package`` (which may import or include the package's
    other templates), every value escaped unless marked safe, with the filters ``thousands`` and
    ``svg`` (a ``mlops.reports.svg.Chart`` as its markup)."""
    import jinja2

    from mlops.reports import svg

    def source(template: str) -> str:
        return resources.files(package).joinpath(template).read_text(encoding="utf-8")

    environment = jinja2.Environment(
        loader=jinja2.FunctionLoader(source), autoescape=True, trim_blocks=True, lstrip_blocks=True
    )
    environment.filters["thousands"] = thousands
    environment.filters["svg"] = svg.markup
    return environment.get_template(name)


def thousands(count: Any) -> str:
    """Return a count with thousands separators; anything else as text."""
    return f"{count:,}" if isinstance(count, int) else str(count)


def number(value: float | None, missing: str = "n/a") -> str:
    """Return a value in four significant digits (whole above 10,000), or ``missing`` when it is None
    or NaN."""
    if value is None or math.isnan(value):
        return missing
    return f"{value:,.0f}" if 1e4 <= abs(value) < 1e15 else f"{value:.4g}"
