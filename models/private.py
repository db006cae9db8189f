"""Files only their owner may read: signing and encryption keys, tokens, the rollout store.

Each is created 0600 (never world-readable in between) in a folder made 0700, and files that
exist already are tightened on open, so an install from an earlier release is closed too.
"""

import os
import secrets
from pathlib import Path


def private_folder(folder: Path) -> Path:
    """`folder`, created if missing, readable by the owner only."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(folder, 0o700)  # mkdir's mode is masked by the umask and ignored for an existing folder
    return folder


def tighten(*paths: Path) -> None:
    """Make each existing file owner-only (a file written by an earlier release may be 0644)."""
    for path in paths:
        if path.exists():
            os.chmod(path, 0o600)


def write_private(path: Path, text: str) -> None:
    """Write `text` readable by the owner only (created 0600, never world-readable in between)."""
    private_folder(path.parent)
    temporary = path.with_suffix(".tmp")
    temporary.unlink(missing_ok=True)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
    temporary.replace(path)


def ensure_secret(path: Path) -> str:
    """The secret in `path`, created (256 random bits, 0600) if missing."""
    if not path.exists():
        write_private(path, secrets.token_hex(32))
    tighten(path)
    return path.read_text().strip()
