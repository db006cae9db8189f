"""The rollout store interface."""

from __future__ import annotations

from typing import Protocol

from controller.analysis.verdict import Look, Verdict
from controller.audit import AuditEntry, Verification
from controller.environments.records import Approval
from controller.rollouts.spec import Rollout


class StoreError(Exception):
    """The store refused a write; the message says why and what to do. A record changed since it
    was read is `runtime.conflict.Conflict` instead, as on every guarded write: read it, retry."""


class RolloutStore(Protocol):
    def create(self, rollout: Rollout, actor: str) -> Rollout:
        """Persist a new rollout; StoreError if the model already has an active one."""

    def get(self, rollout_id: str) -> Rollout | None:
        """The record, or None."""

    def list(self, model: str | None = None, active: bool | None = None) -> list[Rollout]:
        """Records, newest first."""

    def save(self, rollout: Rollout, actor: str, action: str, events: list[dict], detail: dict) -> Rollout:
        """Replace the record (Conflict unless its revision is current), append its events and one
        audit entry, in one transaction; returns the record with its new revision."""

    def record_action(self, actor: str, action: str, rollout: str | None, detail: dict) -> None:
        """An audit entry for an action that changes no record (e.g. a refused request)."""

    def events(self, rollout_id: str) -> list[dict]:
        """Every event of a rollout, oldest first."""

    def latest_verdict(self, rollout_id: str) -> Verdict | None:
        """The verdict of the rollout's latest recorded look, or None before its first."""

    def latest_look(self, rollout_id: str) -> Look | None:
        """The rollout's latest recorded look (its verdict and each version's figures in the
        window), or None before its first."""

    def audit(self, since: int = 0, limit: int = 1000) -> list[AuditEntry]:
        """Audit entries from `since` on, oldest first."""

    def verify_audit(self, full: bool = False) -> Verification:
        """The audit log checked against the store's key: from the last verified entry on, or whole."""

    def approve(self, approval: Approval) -> Approval:
        """Record an approval; audited in the same transaction."""

    def approvals(self, model: str | None = None, version: int | None = None) -> list[Approval]:
        """Approvals, oldest first."""

    def revoke(self, jti: str, actor: str) -> None:
        """Deny the token with this id from now on; audited."""

    def revoked(self, jti: str) -> bool:
        """Whether the token with this id was revoked."""

    def revoked_ids(self) -> list[str]:
        """The ids of every revoked token, oldest first."""
