"""The local registry database is checked before MLflow opens it: damaged, truncated and locked stores
are one line naming the file and the fix, and nothing runs on them."""

import sqlite3
import threading

import pytest

from mlops import registry
from mlops.core.errors import MlopsError
from mlops.registry import store
from mlops.training.run import train_model

FAST = ["data=generated", "data.n_rows=600", "estimator.n_estimators=5"]


@pytest.fixture
def trained(isolated_state):
    """A state folder holding one registered version of credit-default."""
    train_model("credit-default", FAST, echo=lambda _line: None)
    registry.checked.cache_clear()  # the next command is a new process: it checks again
    return isolated_state


def damage(database, offset: int) -> None:
    with database.open("r+b") as file:
        file.seek(offset)
        file.write(b"\xff" * 8192)


@pytest.mark.parametrize(
    ("harm", "fragment"),
    [
        (lambda db: damage(db, 4096), "is damaged"),
        (lambda db: db.write_bytes(b"not a database at all" * 100), "is damaged (file is not a database)"),
        (lambda db: db.write_bytes(b""), "is empty (0 bytes) but"),
    ],
    ids=["malformed-page", "overwritten", "truncated-to-zero"],
)
def test_a_damaged_store_is_one_line_before_any_step(trained, harm, fragment):
    database = trained / "mlflow.db"
    harm(database)
    with pytest.raises(MlopsError) as error:
        train_model("credit-default", FAST, echo=pytest.fail)  # not a line of progress
    message = str(error.value)
    assert fragment in message and str(database) in message
    assert "restore it from a backup, or move it aside" in message and "\n" not in message
    with pytest.raises(MlopsError, match="registry database"):
        registry.champion("credit-default")  # never "no champion"


def test_a_new_or_empty_unused_store_is_fine(isolated_state):
    store.check(isolated_state / "mlflow.db", isolated_state / "artifacts")  # not created yet
    (isolated_state / "mlflow.db").touch()
    store.check(isolated_state / "mlflow.db", isolated_state / "artifacts")  # no versions expected


def test_a_store_locked_by_another_process_is_waited_for_then_named(trained, monkeypatch):
    monkeypatch.setattr(store, "LOCKED_SECONDS", 0.5)
    holder = sqlite3.connect(trained / "mlflow.db", isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")  # a writer in the middle of its transaction
    try:
        with pytest.raises(MlopsError, match=r"is locked by another process .* for over 0\.5 s; retry"):
            store.check(trained / "mlflow.db", trained / "artifacts")
        released = threading.Timer(0.2, holder.execute, ["COMMIT"])
        released.start()
        monkeypatch.setattr(store, "LOCKED_SECONDS", 5)
        store.check(trained / "mlflow.db", trained / "artifacts")  # a brief lock is waited out
        released.join()
    finally:
        holder.close()
