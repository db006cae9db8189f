"""Where rollout records, their events and the audit log persist. One module per backend."""

from controller.store.spec import RolloutStore, StoreError
from controller.store.sqlite import SqliteStore

BACKENDS = {"sqlite": SqliteStore}


def open_store(uri: str) -> RolloutStore:
    """`sqlite:///path/to/file.db` (or a plain path) -> the store; ValueError naming valid schemes."""
    scheme, sep, rest = uri.partition("://")
    if not sep:
        scheme, rest = "sqlite", uri
    if scheme not in BACKENDS:
        raise ValueError(f"unknown rollout store {scheme!r} in {uri!r}; choose one of {', '.join(BACKENDS)}")
    return BACKENDS[scheme](rest)


__all__ = ["BACKENDS", "RolloutStore", "StoreError", "open_store"]
