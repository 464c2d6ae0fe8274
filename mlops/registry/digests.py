"""A registered version bound to its files: the sha256 of every file of the logged model folder,
recorded on the version at registration and checked before the version is promoted, served or
scored, so a file changed since (in the artifact store, by hand or by a fault) is refused by name."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path

from mlops.core.errors import MlopsError

TAG = "files_sha256"  # the version tag holding {relative path: sha256} as JSON
CHUNK = 1 << 20


def of(folder: Path) -> dict[str, str]:
    """Return the sha256 of every file under ``folder``, by path relative to it (``/``-separated)."""
    folder = Path(folder)
    found = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            digest = hashlib.sha256()
            with path.open("rb") as stream:
                while chunk := stream.read(CHUNK):
                    digest.update(chunk)
            found[path.relative_to(folder).as_posix()] = digest.hexdigest()
    return found


def tag(folder: Path) -> dict[str, str]:
    """Return the version tag that records the digests of ``folder``'s files."""
    return {TAG: json.dumps(of(folder), sort_keys=True, separators=(",", ":"))}


def recorded(tags: Mapping[str, str]) -> dict[str, str] | None:
    """Return the digests a version's tags record, or None for a version registered before they were."""
    text = tags.get(TAG)
    if text is None:
        return None
    try:
        found = json.loads(text)
    except ValueError:
        found = None
    if not isinstance(found, dict):
        raise MlopsError(f"the version's {TAG} tag is not a JSON mapping of file to sha256; it was altered")
    return found


def check(folder: Path, tags: Mapping[str, str], described: str) -> bool:
    """Raise naming the file when ``folder`` differs from the digests in ``tags``: a file changed,
    missing or added since registration. Return False for a version that records none (registered
    before they were recorded: nothing to check against), True when every file matches."""
    expected = recorded(tags)
    if expected is None:
        return False
    found = of(folder)
    fix = "register a new version (mlops train) or restore the file from a copy you trust"
    for path, digest in expected.items():
        if path not in found:
            raise MlopsError(
                f"{described}: file '{path}' of the logged model is missing since registration; {fix}"
            )
        if found[path] != digest:
            raise MlopsError(
                f"{described}: file '{path}' of the logged model changed since registration (sha256 "
                f"{found[path][:12]}…, registered {digest[:12]}…); it is refused; {fix}"
            )
    added = sorted(set(found) - set(expected))
    if added:
        raise MlopsError(
            f"{described}: file '{added[0]}' was added to the logged model since registration; it is "
            f"refused; {fix}"
        )
    return True
