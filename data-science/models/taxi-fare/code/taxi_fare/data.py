"""The data hooks of taxi-fare: the real NYC green-taxi trips of January 2016 that ship in ``data/``
(``read_trips``, the default), and deterministic synthetic trips with the same columns (``load``,
``data=generated``) for tests that need many rows or a seeded shift.

The synthetic pickups scatter around Manhattan and Brooklyn, trip lengths are log-normal, traffic is
slower at rush hour, and the cost follows the metered fare (flag drop, per mile, per minute in slow
traffic, night and rush-hour surcharges, a bridge toll on long trips) with noise.
"""

from pathlib import Path

import numpy as np
import pandas as pd

DATA = Path(__file__).resolve().parents[2] / "data"  # data-science/models/taxi-fare/data

MILES_PER_DEGREE_LATITUDE = 69.0
MILES_PER_DEGREE_LONGITUDE = 52.4  # at New York's latitude
HOUR_WEIGHTS = np.array(
    [3, 2, 1.5, 1, 1, 1.5, 3, 5, 6, 5, 4.5, 4.5, 5, 5, 5.5, 6, 6, 6.5, 7.5, 7.5, 6.5, 6, 5.5, 4.5]
)


def read_trips(file: str = "taxi-data.csv") -> pd.DataFrame:
    """Return the trips of ``file`` in this model's ``data/`` folder (its first, unnamed column is the
    row number of Azure's published file, not a feature)."""
    return pd.read_csv(DATA / file, index_col=0).reset_index(drop=True)


def load(n_rows: int = 20000, seed: int = 0) -> pd.DataFrame:
    """Return ``n_rows`` synthetic trips; the same seed gives the same trips."""
    rng = np.random.default_rng(seed)
    pickup_latitude = np.clip(rng.normal(40.75, 0.045, n_rows), 40.57, 40.88)
    pickup_longitude = np.clip(rng.normal(-73.955, 0.045, n_rows), -74.04, -73.73)
    distance = np.clip(rng.lognormal(0.55, 0.85, n_rows), 0.01, 35.0).round(2)
    heading = rng.uniform(0, 2 * np.pi, n_rows)
    straight = 0.75 * distance  # streets are longer than the straight line
    dropoff_latitude = pickup_latitude + straight * np.sin(heading) / MILES_PER_DEGREE_LATITUDE
    dropoff_longitude = pickup_longitude + straight * np.cos(heading) / MILES_PER_DEGREE_LONGITUDE

    day = rng.integers(0, 31, n_rows)
    hour = rng.choice(24, n_rows, p=HOUR_WEIGHTS / HOUR_WEIGHTS.sum())
    seconds = day * 86400 + hour * 3600 + rng.integers(0, 3600, n_rows)
    pickup = pd.Timestamp("2016-01-01") + pd.to_timedelta(seconds, unit="s")
    rush = np.isin(hour, [7, 8, 9, 16, 17, 18, 19]) & (pickup.weekday < 5)
    speed_mph = np.where(rush, 9.0, np.where((hour >= 22) | (hour < 6), 17.0, 12.0))
    minutes = distance / speed_mph * 60 * rng.lognormal(0, 0.2, n_rows) + 1.0
    dropoff = pickup + pd.to_timedelta(np.round(minutes * 60), unit="s")

    cost = 2.5 + 2.0 * distance + 0.3 * minutes
    cost += np.where((hour >= 20) | (hour < 6), 0.5, 0.0) + np.where(rush & (hour >= 16), 1.0, 0.0)
    cost += np.where(distance > 10, 5.54, 0.0)  # long trips cross a tolled bridge
    cost = np.clip(cost + rng.normal(0, 1.0, n_rows), 2.5, None).round(2)

    trips = {
        "cost": cost,
        "distance": distance,
        "dropoff_latitude": dropoff_latitude,
        "dropoff_longitude": dropoff_longitude,
        "passengers": rng.choice([1, 2, 3, 4, 5, 6], n_rows, p=[0.78, 0.11, 0.03, 0.01, 0.045, 0.025]),
        "pickup_latitude": pickup_latitude,
        "pickup_longitude": pickup_longitude,
        "store_forward": (rng.random(n_rows) < 0.005).astype(int),
        "vendor": rng.choice([1, 2], n_rows, p=[0.34, 0.66]),
    }
    for prefix, when in (("pickup", pickup), ("dropoff", dropoff)):
        trips |= {
            f"{prefix}_weekday": when.weekday,
            f"{prefix}_month": when.month,
            f"{prefix}_monthday": when.day,
            f"{prefix}_hour": when.hour,
            f"{prefix}_minute": when.minute,
            f"{prefix}_second": when.second,
        }
    return pd.DataFrame(trips)
