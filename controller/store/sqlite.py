"""SQLite rollout store: one file, WAL mode (readers never block the loop), one transaction per
decision so a record, its events and its audit entry persist together or not at all.

The audit table refuses UPDATE and DELETE through triggers; the keyed chain shows any edit made
around them. Its key lives beside the database (`<file>.audit_key`); the file, its WAL and the key
are owner-only, in an owner-only folder.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path

from controller.analysis.verdict import VERDICT, Look, Verdict
from controller.audit import GENESIS, AuditEntry, Checkpoint, Verification, entry_mac, is_keyed, verify
from controller.environments.records import Approval
from controller.rollouts.spec import Rollout
from controller.store.spec import StoreError
from models.private import ensure_secret, private_folder, tighten
from runtime.conflict import Conflict

STORED = {"stored": True}
"""Validation context of a record read back: fields retired since it was written are dropped."""
PAGE = 10_000
"""Audit entries read at once while verifying."""
SCHEMA = """
CREATE TABLE IF NOT EXISTS rollouts (
    id TEXT PRIMARY KEY, model TEXT NOT NULL, active INTEGER NOT NULL,
    revision INTEGER NOT NULL, created REAL NOT NULL, record TEXT NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS one_active_per_model ON rollouts(model) WHERE active = 1;
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, rollout TEXT NOT NULL, ts REAL NOT NULL,
    kind TEXT NOT NULL, name TEXT NOT NULL, detail TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_by_rollout ON events(rollout, seq);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY, ts REAL NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
    rollout TEXT, detail TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS approvals (
    id TEXT PRIMARY KEY, model TEXT NOT NULL, version INTEGER NOT NULL, environment TEXT NOT NULL,
    created REAL NOT NULL, record TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS approvals_by_version ON approvals(model, version, environment);
CREATE TRIGGER IF NOT EXISTS approvals_no_update BEFORE UPDATE ON approvals
    BEGIN SELECT RAISE(ABORT, 'approvals are append-only'); END;
CREATE TABLE IF NOT EXISTS revoked (
    jti TEXT PRIMARY KEY, ts REAL NOT NULL, actor TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""


class SqliteStore:
    """Thread-safe: one connection per thread. A record counts as active until it is terminal and
    its last decision is applied, so a decision recorded just before a crash is still carried out."""

    def __init__(self, path: str):
        self.path = Path(path)
        private_folder(self.path.parent)
        key_path = self.path.with_name(self.path.name + ".audit_key")
        sealing = not key_path.exists()
        self._key = ensure_secret(key_path).encode()
        self._local = threading.local()
        self._verified, self._verifying = Checkpoint(), threading.Lock()
        with self._connection() as db:
            db.executescript(SCHEMA)
        self._tighten()
        if sealing:
            self._seal_legacy()

    def _tighten(self) -> None:
        """The database and its WAL files owner-only (SQLite creates them with the umask's mode)."""
        tighten(self.path, *(self.path.with_name(self.path.name + s) for s in ("-wal", "-shm")))

    def _seal_legacy(self) -> None:
        """A log written without a key (an earlier release) gets a keyed entry on top as the key is
        created, so from here on the log verifies only with the key."""
        last = self.audit(self._last_seq(), 1)
        if last and not is_keyed(last[0], self._key):
            detail = {"legacy_until": last[0].seq, "note": "entries up to here are chained without a key"}
            self.record_action("controller", "audit-keyed", None, detail)

    def _connection(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            try:
                db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=FULL")  # a recorded decision survives a power cut
                self._tighten()  # the -wal and -shm files appear with the first connection
            except sqlite3.Error as e:
                raise StoreError(f"cannot open the rollout store {self.path}: {e}") from e
            self._local.db = db
        return db

    def _transaction(self):
        return _Transaction(self._connection())

    def create(self, rollout: Rollout, actor: str) -> Rollout:
        try:
            with self._transaction() as db:
                db.execute(
                    "INSERT INTO rollouts VALUES (?, ?, 1, ?, ?, ?)",
                    (
                        rollout.id,
                        rollout.spec.model,
                        rollout.revision,
                        rollout.created,
                        rollout.model_dump_json(),
                    ),
                )
                detail = rollout.spec.model_dump(mode="json")
                if rollout.promotion is not None:
                    detail["promotion"] = rollout.promotion.model_dump(mode="json")
                action = "promote" if rollout.promotion is not None else "create"
                self._append_audit(db, actor, action, rollout.id, detail)
        except sqlite3.IntegrityError as e:
            active = self.list(rollout.spec.model, active=True)
            which = f" ({active[0].id}, {active[0].phase.value})" if active else ""
            raise StoreError(
                f"{rollout.spec.model} already has an active rollout{which}; wait for it, or abort it first"
            ) from e
        return rollout

    def get(self, rollout_id: str) -> Rollout | None:
        row = self._connection().execute("SELECT record FROM rollouts WHERE id = ?", (rollout_id,)).fetchone()
        return Rollout.model_validate_json(row[0], context=STORED) if row else None

    def list(self, model: str | None = None, active: bool | None = None) -> list[Rollout]:
        query, args = "SELECT record FROM rollouts WHERE 1=1", []
        if model is not None:
            query, args = query + " AND model = ?", [*args, model]
        if active is not None:
            query, args = query + " AND active = ?", [*args, int(active)]
        rows = self._connection().execute(query + " ORDER BY created DESC", args).fetchall()
        return [Rollout.model_validate_json(r[0], context=STORED) for r in rows]

    def save(self, rollout: Rollout, actor: str, action: str, events: list[dict], detail: dict) -> Rollout:
        saved = rollout.model_copy(update={"revision": rollout.revision + 1, "updated": time.time()})
        with self._transaction() as db:
            cursor = db.execute(
                "UPDATE rollouts SET record = ?, revision = ?, active = ? WHERE id = ? AND revision = ?",
                (
                    saved.model_dump_json(),
                    saved.revision,
                    int(saved.active or not saved.applied),
                    rollout.id,
                    rollout.revision,
                ),
            )
            if cursor.rowcount != 1:
                raise Conflict(
                    f"rollout {rollout.id} changed since revision {rollout.revision}; read it again"
                )
            for event in events:
                db.execute(
                    "INSERT INTO events (rollout, ts, kind, name, detail) VALUES (?, ?, ?, ?, ?)",
                    (rollout.id, event["ts"], event["kind"], event["name"], json.dumps(event["detail"])),
                )
            self._append_audit(db, actor, action, rollout.id, detail)
        return saved

    def events(self, rollout_id: str) -> list[dict]:
        rows = self._connection().execute(
            "SELECT ts, kind, name, detail FROM events WHERE rollout = ? ORDER BY seq", (rollout_id,)
        )
        return [{"ts": ts, "kind": kind, "name": name, "detail": json.loads(d)} for ts, kind, name, d in rows]

    def latest_verdict(self, rollout_id: str) -> Verdict | None:
        query = "SELECT detail FROM events WHERE rollout = ? AND kind = ? ORDER BY seq DESC LIMIT 1"
        row = self._connection().execute(query, (rollout_id, VERDICT)).fetchone()
        return Verdict.from_dict(json.loads(row[0])) if row else None

    def latest_look(self, rollout_id: str) -> Look | None:
        query = "SELECT ts, name, detail FROM events WHERE rollout = ? AND kind = ? ORDER BY seq DESC LIMIT 1"
        row = self._connection().execute(query, (rollout_id, VERDICT)).fetchone()
        if row is None:
            return None
        ts, name, detail = row
        return Look.of({"ts": ts, "kind": VERDICT, "name": name, "detail": json.loads(detail)})

    def audit(self, since: int = 0, limit: int = 1000) -> list[AuditEntry]:
        rows = self._connection().execute(
            "SELECT seq, ts, actor, action, rollout, detail, prev_hash, hash FROM audit WHERE seq >= ? "
            "ORDER BY seq LIMIT ?",
            (since, limit),
        )
        return [AuditEntry(s, ts, a, act, r, json.loads(d), p, h) for s, ts, a, act, r, d, p, h in rows]

    def _append_audit(
        self, db: sqlite3.Connection, actor: str, action: str, rollout: str | None, detail: dict
    ) -> None:
        last = db.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        seq, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS)
        ts = round(time.time(), 6)
        detail = json.loads(json.dumps(detail))  # what is hashed is exactly what is stored
        digest = entry_mac(self._key, prev_hash, seq, ts, actor, action, rollout, detail)
        db.execute(
            "INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (seq, ts, actor, action, rollout, json.dumps(detail), prev_hash, digest),
        )

    def record_action(self, actor: str, action: str, rollout: str | None, detail: dict) -> None:
        """An audit entry for an action that changes no record (e.g. a refused request)."""
        with self._transaction() as db:
            self._append_audit(db, actor, action, rollout, detail)

    def verify_audit(self, full: bool = False) -> Verification:
        """The audit log verified from the last verified entry on (an edit before it shows on the
        next `full` check or restart); the whole log when `full`, or when that entry's MAC changed
        (the log was rewritten)."""
        with self._verifying:
            point = Checkpoint() if full else self._verified
            if point.seq and [e.hash for e in self.audit(point.seq, 1)] != [point.hash]:
                point = Checkpoint()
            while True:
                page = self.audit(point.seq + 1, PAGE)
                result = verify(page, self._key, point, final=len(page) < PAGE)
                if result.broken_at is not None or len(page) < PAGE:
                    break
                point = result.checkpoint
            if result.broken_at is None:
                self._verified = result.checkpoint
            return result

    def _last_seq(self) -> int:
        row = self._connection().execute("SELECT MAX(seq) FROM audit").fetchone()
        return row[0] or 0

    def approve(self, approval: Approval) -> Approval:
        """Record an approval and its audit entry together."""
        with self._transaction() as db:
            db.execute(
                "INSERT INTO approvals VALUES (?, ?, ?, ?, ?, ?)",
                (approval.id, approval.model, approval.version, approval.environment, approval.created,
                 approval.model_dump_json()),
            )  # fmt: skip
            self._append_audit(db, approval.actor, "approve", None, approval.model_dump(mode="json"))
        return approval

    def approvals(self, model: str | None = None, version: int | None = None) -> list[Approval]:
        query, args = "SELECT record FROM approvals WHERE 1=1", []
        if model is not None:
            query, args = query + " AND model = ?", [*args, model]
        if version is not None:
            query, args = query + " AND version = ?", [*args, version]
        rows = self._connection().execute(query + " ORDER BY created", args).fetchall()
        return [Approval.model_validate_json(r[0]) for r in rows]

    def revoke(self, jti: str, actor: str) -> None:
        """Deny the token with id `jti` from now on (revoking it twice is harmless), audited."""
        with self._transaction() as db:
            db.execute("INSERT OR IGNORE INTO revoked VALUES (?, ?, ?)", (jti, time.time(), actor))
            self._append_audit(db, actor, "revoke-token", None, {"jti": jti})

    def revoked(self, jti: str) -> bool:
        row = self._connection().execute("SELECT 1 FROM revoked WHERE jti = ?", (jti,)).fetchone()
        return row is not None

    def revoked_ids(self) -> list[str]:
        rows = self._connection().execute("SELECT jti FROM revoked ORDER BY rowid").fetchall()
        return [row[0] for row in rows]


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any error; sqlite errors become StoreError."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, kind, error, traceback) -> bool:
        if kind is None:
            self.db.execute("COMMIT")
            return False
        self.db.execute("ROLLBACK")
        if isinstance(error, sqlite3.IntegrityError | Conflict):
            return False
        if isinstance(error, sqlite3.Error):
            raise StoreError(f"the rollout store failed: {error}") from error
        return False
