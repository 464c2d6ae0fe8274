"""Check that no test names a path of one machine: every string in a test file that is an absolute path
under a place a checkout or data set happens to live (/work, /home, /root, /Users, /mnt, /tmp, /data,
/srv, /opt, a Windows drive) or that reaches outside the repository to ``../shared``. Tests take what
they need from the repository or generate it; data from elsewhere comes through an environment variable
or a pytest option and the test is skipped, with its reason, when it is absent. Prints each finding as
``file:line: the string`` and exits 1 when there is any.

    python tools/check_paths.py [ROOT]

Test files: ``tests/``, each model's ``tests/`` and the template's (any ``*.py`` below a ``tests``
folder).
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

MACHINE_PATH = re.compile(
    r"^(/(work|home|root|Users|mnt|tmp|data|srv|opt)(/|$)|[A-Za-z]:[\\/])"  # an absolute path of a machine
    r"|\.\./shared\b"  # the data sets beside this checkout in CI, which a user's clone has not
)
SKIPPED = {".git", ".nox", ".venv", ".mlops", "node_modules"}


def test_files(root: Path) -> list[Path]:
    """Return the Python files below a ``tests`` folder of the repository."""
    found = []
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).parts
        if SKIPPED.isdisjoint(parts) and "tests" in parts[:-1]:
            found.append(path)
    return found


def findings(path: Path, root: Path) -> list[str]:
    """Return ``file:line: string`` for each machine path among a file's string literals."""
    try:
        tree = ast.parse(path.read_text(), filename=str(path))
    except SyntaxError:  # a template file with Jinja in it: read it as text
        lines = path.read_text().splitlines()
        return [
            f"{path.relative_to(root)}:{number}: {line.strip()}"
            for number, line in enumerate(lines, 1)
            for text in re.findall(r"[\"']([^\"']*)[\"']", line)
            if MACHINE_PATH.search(text)
        ]
    return [
        f"{path.relative_to(root)}:{node.lineno}: {node.value!r}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and MACHINE_PATH.search(node.value)
    ]


def main(argv: list[str] | None = None) -> int:
    """Check the test files of ROOT (default the repository this file is in); return the exit status."""
    args = argv if argv is not None else sys.argv[1:]
    root = Path(args[0]).resolve() if args else Path(__file__).resolve().parents[1]
    found = [finding for path in test_files(root) for finding in findings(path, root)]
    for finding in found:
        print(f"{finding}: a path of one machine; generate the data or keep it in the repository")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
