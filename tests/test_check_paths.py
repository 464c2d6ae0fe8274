"""tools/check_paths.py, the lint check that keeps machine paths out of tests: it names each one by
file and line, lets a clean tree pass, and finds none in this repository."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHECK = REPO / "tools" / "check_paths.py"
# written into files at run time: as literals here, the check would rightly flag this very file
ABSOLUTE = "/" + "work/shared/data/taxi/taxi-batch.csv"
OUTSIDE = ".." + "/shared/data/taxi/taxi-data.csv"


def check(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(CHECK), str(root)], capture_output=True, text=True)


def test_machine_paths_in_tests_are_named_by_file_and_line(tmp_path):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_data.py").write_text(
        f'import os\n\nFILE = "{ABSOLUTE}"\nOTHER = "{OUTSIDE}"\n'
    )
    (tmp_path / "data-science" / "models" / "m" / "tests").mkdir(parents=True)
    (tmp_path / "data-science" / "models" / "m" / "tests" / "test_m.py").write_text(f"X = '{ABSOLUTE}'\n")
    (tmp_path / "mlops").mkdir()
    (tmp_path / "mlops" / "code.py").write_text(f'NOT_A_TEST = "{ABSOLUTE}"\n')  # only tests are checked
    done = check(tmp_path)
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        f"data-science/models/m/tests/test_m.py:1: {ABSOLUTE!r}: a path of one machine; generate the data "
        "or keep it in the repository",
        f"tests/test_data.py:3: {ABSOLUTE!r}: a path of one machine; generate the data or keep it in the "
        "repository",
        f"tests/test_data.py:4: {OUTSIDE!r}: a path of one machine; generate the data or keep it in the "
        "repository",
    ]


def test_relative_paths_urls_and_generated_data_pass(tmp_path):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_ok.py").write_text(
        'ROUTE = "/score"\nFILE = "data-science/models/taxi-fare/data/taxi-batch.csv"\nURL = "http://x/v2"\n'
    )
    assert check(tmp_path).returncode == 0


def test_this_repository_has_no_machine_path_in_a_test():
    done = check(REPO)
    assert done.returncode == 0, done.stdout
