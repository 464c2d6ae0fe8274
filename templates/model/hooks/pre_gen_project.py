"""Check the template's answers before anything is written.

Plain ``cookiecutter`` runs this file as a script; ``mlops new`` imports it and calls ``problems``
itself first, so both doors apply the same rules.
"""

import re
import sys

MAX_NAME_LENGTH = 32  # the name ends up in Azure resource names
NAME_PATTERN = re.compile(r"[a-z](?:[a-z0-9-]*[a-z0-9])?")
TASKS = ("regression", "classification")


def problems(model_name: str, task: str) -> list[str]:
    """Return what is wrong with the answers, each message echoing the value and what is allowed."""
    found = []
    if not NAME_PATTERN.fullmatch(model_name) or "--" in model_name:
        found.append(
            f"model name '{model_name}' is not a lowercase slug: use lowercase letters, digits and "
            "single dashes, start with a letter and end with a letter or digit (e.g. fraud-score)"
        )
    if len(model_name) > MAX_NAME_LENGTH:
        found.append(
            f"model name '{model_name}' has {len(model_name)} characters; at most {MAX_NAME_LENGTH} are allowed"
        )
    if task not in TASKS:
        found.append(f"task '{task}' is not one of: {', '.join(TASKS)}")
    return found


if __name__ == "__main__":
    messages = problems("{{ cookiecutter.model_name }}", "{{ cookiecutter.task }}")
    for message in messages:
        print(f"error: {message}", file=sys.stderr)
    sys.exit(1 if messages else 0)
