"""The data hook of credit-default: deterministic credit-card clients in the spirit of the
"default of credit card clients" data set (Taiwan, 2005): credit limit, demographics, the last
three months' repayment status, bills and payments, and whether the client defaults next month
(about one client in five; the classes are imbalanced). A few education answers are missing.
"""

import numpy as np
import pandas as pd

EDUCATION = ["graduate_school", "university", "high_school", "other"]
MARRIAGE = ["married", "single", "other"]


def load(n_rows: int = 20000, seed: int = 0) -> pd.DataFrame:
    """Return ``n_rows`` synthetic clients; the same seed gives the same clients."""
    rng = np.random.default_rng(seed)
    limit = (rng.lognormal(11.8, 0.7, n_rows) // 10000 * 10000).clip(10000, 1000000)
    age = rng.integers(21, 75, n_rows)
    education = rng.choice(EDUCATION, n_rows, p=[0.35, 0.47, 0.16, 0.02]).astype(object)
    education[rng.random(n_rows) < 0.01] = None
    frame = {
        "limit_balance": limit,
        "sex": rng.choice(["female", "male"], n_rows, p=[0.6, 0.4]),
        "education": education,
        "marriage": rng.choice(MARRIAGE, n_rows, p=[0.45, 0.53, 0.02]),
        "age": age,
    }
    risk = rng.normal(0, 1, n_rows) - 0.4 * np.log(limit / 150000)
    for month in (1, 2, 3):
        # repayment status: -1 paid duly, 1..8 months of delay
        delay = np.clip(np.round(risk + rng.normal(0, 0.8, n_rows) - 0.3), -1, 8)
        bill = np.clip(limit * rng.beta(2, 3, n_rows), 0, None).round(0)
        paid_share = np.where(delay <= 0, rng.beta(5, 2, n_rows), rng.beta(1, 6, n_rows))
        frame |= {
            f"pay_status_{month}": delay.astype(int),
            f"bill_amount_{month}": bill,
            f"pay_amount_{month}": (bill * paid_share).round(0),
        }
    logit = -1.9 + 1.1 * risk + 0.25 * frame["pay_status_1"] - 0.004 * (age - 35)
    frame["default_next_month"] = (rng.random(n_rows) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame(frame)
