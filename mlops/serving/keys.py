"""Endpoint keys as with Azure's ``auth_mode: key``: a primary and a secondary key in keys.json (0600)."""

from __future__ import annotations

import hmac
import json
import os
import secrets
from pathlib import Path

from mlops.core import atomic
from mlops.core.errors import MlopsError

FILE = "keys.json"
NAMES = ("primary", "secondary")


def write(folder: Path, keys: dict[str, str]) -> None:
    """Replace the key file whole or not at all with a file only the owner can read."""
    atomic.write(folder / FILE, json.dumps(keys), mode=0o600)


def ensure(folder: Path) -> None:
    """Create the two keys of a new endpoint; existing keys are kept."""
    if not (folder / FILE).exists():
        write(folder, {name: secrets.token_urlsafe(32) for name in NAMES})


def read(folder: Path) -> dict[str, str]:
    """Return the keys of the endpoint in ``folder``."""
    try:
        keys: dict[str, str] = json.loads((folder / FILE).read_text())
        return keys
    except FileNotFoundError:
        raise MlopsError(
            f"no endpoint '{folder.name}' (no {FILE}); deploy it with: mlops deploy {folder.name} --online"
        ) from None


def regenerate(folder: Path, which: str) -> dict[str, str]:
    """Replace one key with a new random key and return both; a running server accepts it at once."""
    keys = read(folder)
    keys[which] = secrets.token_urlsafe(32)
    write(folder, keys)
    return keys


class KeyRing:
    """The keys a server accepts, re-read whenever keys.json changes (so no restart is needed)."""

    def __init__(self, folder: Path):
        self.path = folder / FILE
        self.stamp: tuple[int, int, int] | None = None
        self.keys: list[bytes] = []

    def accepts(self, authorization: bytes | None) -> bool:
        """Return whether an ``Authorization: Bearer <key>`` header value holds one of the keys."""
        status = os.stat(self.path)
        stamp = (status.st_ino, status.st_mtime_ns, status.st_size)
        if stamp != self.stamp:
            self.keys = [key.encode() for key in json.loads(self.path.read_bytes()).values()]
            self.stamp = stamp
        scheme, _, token = (authorization or b"").partition(b" ")
        matches = [hmac.compare_digest(token.strip(), key) for key in self.keys]
        return scheme.lower() == b"bearer" and any(matches)
