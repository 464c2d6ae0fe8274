"""Check the template's answers before anything is written.

Plain ``cookiecutter`` runs this file as a script; ``mlops new`` imports it and calls ``problems``
itself first, so both doors apply the same rules.
"""

import json
import re
import sys

MAX_NAME_LENGTH = 32  # the name ends up in Azure resource names
NAME_PATTERN = re.compile(r"[a-z](?:[a-z0-9-]*[a-z0-9])?")
OWNER_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]*")
MAX_DESCRIPTION_LENGTH = 200
TASKS = ("regression", "classification")
ESTIMATORS = ("random_forest", "lightgbm", "xgboost")  # a scikit-learn forest, or a booster's own training


def problems(
    model_name: str, task: str, description: str, owner: str, estimator: str = "random_forest"
) -> list[str]:
    """Return what is wrong with the answers, each message echoing the value and what is allowed."""
    found = []
    if not NAME_PATTERN.fullmatch(model_name) or "--" in model_name:
        found.append(
            f"model name '{model_name}' is not a lowercase slug: use lowercase letters, digits and "
            "single dashes, start with a letter and end with a letter or digit (e.g. fraud-score)"
        )
    if len(model_name) > MAX_NAME_LENGTH:
        found.append(
            f"model name '{model_name}' has {len(model_name)} characters; "
            f"at most {MAX_NAME_LENGTH} are allowed"
        )
    if task not in TASKS:
        found.append(f"task '{task}' is not one of: {', '.join(TASKS)}")
    if estimator not in ESTIMATORS:
        found.append(f"estimator '{estimator}' is not one of: {', '.join(ESTIMATORS)}")
    if not OWNER_PATTERN.fullmatch(owner):
        found.append(
            f"owner '{owner}' is not a team or user id: use letters, digits, '.', '_', '@' and '-' "
            "(e.g. risk-team)"
        )
    if not description.strip() or len(description) > MAX_DESCRIPTION_LENGTH or "\n" in description:
        found.append(
            f"description {description!r} must be one line of 1 to {MAX_DESCRIPTION_LENGTH} characters"
        )
    return found


if __name__ == "__main__":
    answers = json.loads(r"""{{ cookiecutter | tojson }}""")
    messages = problems(
        answers["model_name"], answers["task"], answers["description"], answers["owner"], answers["estimator"]
    )
    for message in messages:
        print(f"error: {message}", file=sys.stderr)
    sys.exit(1 if messages else 0)
