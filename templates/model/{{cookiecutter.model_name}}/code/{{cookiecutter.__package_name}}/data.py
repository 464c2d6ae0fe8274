"""The data hook of {{ cookiecutter.model_name }}: ``config/data/synthetic.yaml`` names ``load``.

Replace ``load`` with code that reads your data (it must return a pandas DataFrame holding the
columns in ``config/model.yaml``'s schema), or train on a file with ``data=file data.path=...``.
"""

import numpy as np
import pandas as pd

REGIONS = ["north", "south", "east", "west"]
PLANS = ["basic", "plus", "premium"]


def load(n_rows: int = 5000, seed: int = 0) -> pd.DataFrame:
    """Return ``n_rows`` deterministic synthetic customers with a learnable target."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 80, n_rows)
    income = rng.lognormal(10.5, 0.4, n_rows).round(2)
    tenure = rng.integers(0, 120, n_rows)
    calls = rng.poisson(2.0, n_rows)
    region = rng.choice(REGIONS, n_rows)
    plan = rng.choice(PLANS, n_rows, p=[0.5, 0.3, 0.2])
    plan_effect = pd.Series(plan).map({"basic": 0.0, "plus": 1.0, "premium": 2.0}).to_numpy()
    score = 0.03 * (age - 45) + np.log(income / 36000) - 0.02 * tenure + 0.5 * calls + plan_effect
{%- if cookiecutter.task == "regression" %}
    target = 100 + 20 * score + rng.normal(0, 5, n_rows)
{%- else %}
    probability = 1 / (1 + np.exp(-3 * (score - 1.5)))
    target = (rng.random(n_rows) < probability).astype(int)
{%- endif %}
    return pd.DataFrame(
        {
            "age": age,
            "income": income,
            "tenure_months": tenure,
            "support_calls": calls,
            "region": region,
            "plan": plan,
            "target": target,
        }
    )
