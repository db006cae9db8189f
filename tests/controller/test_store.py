"""The SQLite rollout store, its owner-only files, token revocations and the keyed audit chain."""

import json
import math
import sqlite3

import pytest

from controller.analysis.verdict import Look, Measurement, Outcome, Verdict
from controller.audit import GENESIS, legacy_hash
from controller.rollouts.spec import Phase
from controller.rollouts.strategies import STRATEGIES
from controller.store import open_store
from controller.store.spec import StoreError
from controller.store.sqlite import SCHEMA
from runtime.conflict import Conflict
from tests.controller.factories import rollout

STRATEGY_FIELDS = {"strategy", *(s.field for s in STRATEGIES.values())}


@pytest.fixture
def store(tmp_path):
    return open_store(f"sqlite://{tmp_path / 'rollouts.db'}")


def test_records_round_trip_in_wal_mode(store, tmp_path):
    created = store.create(rollout(), "alice")
    assert store.get(created.id) == created
    assert store.list("fraud", active=True) == [created]
    mode = sqlite3.connect(tmp_path / "rollouts.db").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_a_record_stored_with_the_flat_spec_of_earlier_releases_loads(store, tmp_path):
    created = store.create(rollout(), "alice")
    record = json.loads(created.model_dump_json())
    flat = {key: value for key, value in record["spec"].items() if key not in STRATEGY_FIELDS}
    old = {"strategy": "blue-green", "steps": [10, 50, 100], "shadow_percent": 50.0, "warm_s": 60.0,
           "cluster": None, "thresholds": {"max_psi": 0.25, "min_rows": 100}}  # fmt: skip
    record["spec"] = {**flat, **old}
    with sqlite3.connect(tmp_path / "rollouts.db") as db:
        db.execute("UPDATE rollouts SET record = ? WHERE id = ?", (json.dumps(record), created.id))
    spec = store.get(created.id).spec
    assert (spec.strategy, spec.canary, spec.blue_green.shadow_percent, spec.blue_green.warm_s) == (
        "blue-green",
        None,
        50.0,
        60.0,
    )


def test_one_active_rollout_per_model(store):
    first = store.create(rollout(), "alice")
    with pytest.raises(StoreError, match=f"already has an active rollout \\({first.id}"):
        store.create(rollout(candidate=3), "bob")
    done = first.model_copy(update={"phase": Phase.SUCCEEDED})
    store.save(done, "controller", "succeed", [], {})
    assert store.create(rollout(candidate=3), "bob").spec.candidate == 3


def test_a_terminal_decision_not_yet_applied_stays_active(store):
    first = store.create(rollout(), "alice")
    store.save(
        first.model_copy(update={"phase": Phase.ROLLED_BACK, "applied": False}), "controller", "x", [], {}
    )
    assert [r.id for r in store.list(active=True)] == [first.id]


def test_stale_writes_conflict(store):
    first = store.create(rollout(), "alice")
    store.save(first.model_copy(update={"command": "pause"}), "alice", "pause", [], {})
    with pytest.raises(Conflict):
        store.save(first.model_copy(update={"reason": "stale"}), "controller", "hold", [], {})


def test_events_are_kept_in_order(store):
    first = store.create(rollout(), "alice")
    events = [{"ts": 1.0, "kind": "verdict", "name": "Failed", "detail": {"x": 1}},
              {"ts": 1.0, "kind": "decision", "name": "hold", "detail": {}}]  # fmt: skip
    store.save(first, "controller", "hold", events, {})
    assert [e["kind"] for e in store.events(first.id)] == ["verdict", "decision"]


def test_the_latest_verdict_reads_back_as_the_value_recorded(store):
    first = store.create(rollout(), "alice")
    assert store.latest_verdict(first.id) is None
    judge = Measurement("latency", Outcome.FAILED, 3.1, 1.5, "slower", kind="judge", p_value=1e-4,
                        alpha=8.3e-4, low=2.2, high=math.inf, samples=400.0, needed=math.inf)  # fmt: skip
    earlier = Verdict.of([Measurement("p99_ms", Outcome.SUCCESSFUL, 4.0, 500.0)])
    latest = Verdict.of([judge])
    decision = {"ts": 2.0, "kind": "decision", "name": "rollback", "detail": {}}
    saved = store.save(first, "controller", "hold", [Look(earlier, 0).event(1.0)], {})
    store.save(saved, "controller", "rollback", [Look(latest, 0, 30.0).event(2.0), decision], {})
    assert store.latest_verdict(first.id) == latest
    assert store.latest_verdict("no-such-rollout") is None


def test_the_latest_look_reads_back_with_each_versions_figures(store):
    first = store.create(rollout(), "alice")
    assert store.latest_look(first.id) is None
    figures = {"2": {"requests": 40.0, "p50_ms": 3.0, "p99_ms": 9.0, "error_rate": 0.0}, "1": None}
    earlier = Look(Verdict.of([Measurement("p99_ms", Outcome.SUCCESSFUL, 4.0, 500.0)]), 0)
    latest = Look(Verdict.of([Measurement("p99_ms", Outcome.FAILED, 900.0, 500.0)]), 1, 30.0, figures)
    decision = {"ts": 3.0, "kind": "decision", "name": "rollback", "detail": {}}
    saved = store.save(first, "controller", "hold", [earlier.event(1.0)], {})
    store.save(saved, "controller", "rollback", [latest.event(2.0), decision], {})
    assert store.latest_look(first.id) == latest
    assert store.latest_look("no-such-rollout") is None


def test_audit_chain_verifies_and_shows_an_edited_entry(store, tmp_path):
    first = store.create(rollout(), "alice")
    store.save(first.model_copy(update={"command": "abort"}), "bob", "abort", [], {"why": "test"})
    entries = store.audit()
    assert [(e.actor, e.action) for e in entries] == [("alice", "create"), ("bob", "abort")]
    assert store.verify_audit().broken_at is None
    db = sqlite3.connect(tmp_path / "rollouts.db")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("UPDATE audit SET actor = 'mallory' WHERE seq = 1")
    db.execute("DROP TRIGGER audit_no_update")  # someone with file access goes around the trigger
    db.execute("UPDATE audit SET actor = 'mallory' WHERE seq = 1")
    db.commit()
    assert store.verify_audit(full=True).broken_at == 1


def test_a_removed_audit_entry_shows(store, tmp_path):
    first = store.create(rollout(), "alice")
    for action in ("pause", "resume"):
        first = store.save(first, "bob", action, [], {})
    db = sqlite3.connect(tmp_path / "rollouts.db")
    db.execute("DROP TRIGGER audit_no_delete")
    db.execute("DELETE FROM audit WHERE seq = 2")
    db.commit()
    assert store.verify_audit().broken_at == 3


def test_unknown_store_scheme_names_the_valid_ones():
    with pytest.raises(ValueError, match="choose one of sqlite"):
        open_store("postgres://db/rollouts")


def _rechain(path, entries) -> None:
    """What an editor with the file but not the key can do: rewrite rows on a plain sha256 chain."""
    db = sqlite3.connect(path)
    for trigger in ("audit_no_update", "audit_no_delete"):
        db.execute(f"DROP TRIGGER {trigger}")
    db.execute("DELETE FROM audit")
    previous = GENESIS
    for seq, (actor, action) in enumerate(entries, start=1):
        digest = legacy_hash(previous, seq, 1.0, actor, action, None, {})
        db.execute(
            "INSERT INTO audit VALUES (?, 1.0, ?, ?, NULL, '{}', ?, ?)",
            (seq, actor, action, previous, digest),
        )
        previous = digest
    db.commit()


def test_a_log_rechained_without_the_key_does_not_verify(store, tmp_path):
    first = store.create(rollout(), "alice")
    store.save(first, "bob", "abort", [], {})
    assert store.verify_audit().broken_at is None
    _rechain(tmp_path / "rollouts.db", [("mallory", "create"), ("bob", "abort")])
    assert store.verify_audit().broken_at == 2
    assert open_store(str(tmp_path / "rollouts.db")).verify_audit().broken_at == 2  # after a restart too


def test_a_log_of_an_earlier_release_reads_as_legacy_up_to_the_keyed_seal(tmp_path):
    path = tmp_path / "rollouts.db"
    with sqlite3.connect(path) as db:
        db.executescript(SCHEMA)
    _rechain(path, [("alice", "create"), ("bob", "abort")])
    store = open_store(str(path))
    store.record_action("carol", "denied", None, {})
    verification = store.verify_audit()
    assert (verification.broken_at, verification.legacy_until) == (None, 2)
    assert [e.action for e in store.audit()] == ["create", "abort", "audit-keyed", "denied"]


def test_verification_goes_on_from_the_verified_entry_and_sees_it_rewritten(store, tmp_path):
    first = store.create(rollout(), "alice")
    assert store.verify_audit().checkpoint.seq == 1
    store.save(first, "bob", "pause", [], {})
    assert store.verify_audit().checkpoint.seq == 2
    db = sqlite3.connect(tmp_path / "rollouts.db")
    db.execute("DROP TRIGGER audit_no_update")
    db.execute("UPDATE audit SET hash = ? WHERE seq = 2", ("f" * 64,))
    db.commit()
    assert store.verify_audit().broken_at == 2


def test_the_store_and_its_key_are_owner_only_in_an_owner_only_folder(tmp_path):
    import os

    folder = tmp_path / "state"
    folder.mkdir(mode=0o755)
    os.chmod(folder, 0o755)
    (folder / "rollouts.db").touch(mode=0o644)  # as an earlier release left it
    store = open_store(str(folder / "rollouts.db"))
    store.create(rollout(), "alice")
    assert folder.stat().st_mode & 0o777 == 0o700
    for name in ("rollouts.db", "rollouts.db-wal", "rollouts.db-shm", "rollouts.db.audit_key"):
        assert (folder / name).stat().st_mode & 0o777 == 0o600, name


def test_revoked_tokens_are_remembered_and_audited(store):
    assert not store.revoked("abc")
    store.revoke("abc", "root")
    store.revoke("abc", "root")
    assert store.revoked("abc") and not store.revoked("abd")
    last = store.audit()[-1]
    assert (last.actor, last.action, last.detail) == ("root", "revoke-token", {"jti": "abc"})
