"""The data hook of parcel-delay: ``config/data/generated.yaml`` names ``load``.

Generated, not real: deterministic parcels whose chance of arriving late grows with distance, weight,
a weekend or evening hand-over, an economy service and one slower carrier. ``data/parcels-batch.csv``
holds 600 more of them without the target (``load(600, seed=1)``), for ``mlops batch`` and
``mlops monitor``; a test checks it is still what ``load`` makes.
"""

from pathlib import Path

import numpy as np
import pandas as pd

DATA = Path(__file__).resolve().parents[2] / "data"
CARRIERS = ["northline", "swiftpost", "parcelco", "blueway"]
SERVICES = ["economy", "standard", "express"]
ZONES = ["urban", "suburban", "rural"]


def load(n_rows: int = 6000, seed: int = 0) -> pd.DataFrame:
    """Return ``n_rows`` deterministic synthetic parcels with their ``late`` flag (1: arrived late)."""
    rng = np.random.default_rng(seed)
    distance = rng.gamma(2.0, 150.0, n_rows).round(1)
    weight = rng.lognormal(0.5, 0.8, n_rows).round(2)
    carrier = rng.choice(CARRIERS, n_rows, p=[0.4, 0.3, 0.2, 0.1])
    service = rng.choice(SERVICES, n_rows, p=[0.5, 0.35, 0.15])
    zone = rng.choice(ZONES, n_rows, p=[0.5, 0.3, 0.2]).astype(object)
    zone[rng.random(n_rows) < 0.02] = None  # an address the zone lookup did not find
    start = pd.Timestamp("2026-01-05")
    shipped = start + pd.to_timedelta(rng.integers(0, 90 * 24 * 60, n_rows), unit="min")
    fragile = rng.random(n_rows) < 0.15
    weekend = shipped.dayofweek >= 5
    evening = shipped.hour >= 18
    score = 1.5 * (
        -2.6
        + distance / 300
        + 0.15 * np.log1p(weight)
        + 0.9 * weekend
        + 0.5 * evening
        + pd.Series(service).map({"economy": 0.8, "standard": 0.2, "express": -0.9}).to_numpy()
        + 0.7 * (carrier == "blueway")
        + 0.4 * (zone == "rural")
        + 0.3 * fragile
    )
    late = (rng.random(n_rows) < 1 / (1 + np.exp(-score))).astype(int)
    return pd.DataFrame(
        {
            "distance_km": distance,
            "weight_kg": weight,
            "carrier": carrier,
            "service": service,
            "destination_zone": zone,
            "shipped_at": shipped.strftime("%Y-%m-%dT%H:%M:%S"),
            "fragile": fragile,
            "late": late,
        }
    )


def batch() -> pd.DataFrame:
    """Return the parcels of ``data/parcels-batch.csv``: 600 more, without the target."""
    return load(600, seed=1).drop(columns="late")
