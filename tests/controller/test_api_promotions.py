"""Promotion through the control API, over a real store and model store and a double of the target:
refused until the version succeeded upstream, soaked and was approved by someone else; every step
in the audit chain."""

import time

import pytest
from fastapi.testclient import TestClient

from controller.api.app import Services, create_app
from controller.environments.eligibility import Alert
from controller.environments.spec import Environments
from controller.rollouts.state import Phase
from controller.store import open_store
from runtime.ratelimit import RateLimiter
from runtime.tokens import mint
from runtime.traffic import ModelTraffic
from tests.controller.doubles import TargetDouble

SECRET = "p" * 64
SOAK_S = 300.0
ENVIRONMENTS = Environments(environments={
    "dev": {"rollout": {"shadow": {"steps": [100]}}},
    "production": {"upstream": "dev", "soak": SOAK_S, "approval": {"role": "approver", "four_eyes": True},
                   "rollout": {"canary": {"steps": [10, 100]}}},
})  # fmt: skip


class Clock:
    """Real time plus however far a test moved it."""

    def __init__(self):
        self.ahead = 0.0

    def __call__(self) -> float:
        return time.time() + self.ahead


class Alerts:
    """An alert source that reports what a test says fired, and what it was asked."""

    checked = True

    def __init__(self):
        self.firing: list[Alert] = []
        self.asked: list[tuple] = []

    def fired(self, model: str, version: int, since: float, now: float) -> list[Alert]:
        self.asked.append((model, version, since))
        return [a for a in self.firing if (a.model, a.version) == (model, version) and a.at >= since]


@pytest.fixture
def alerts() -> Alerts:
    return Alerts()


@pytest.fixture
def api(models, tmp_path, alerts):
    store, clock = open_store(str(tmp_path / "rollouts.db")), Clock()
    services = Services(
        store=store, targets=lambda ref: TargetDouble(ModelTraffic(weights={1: 100})), models=models,
        secret=SECRET, limiter=RateLimiter(rate=100.0, burst=100), alive=lambda: True, clock=clock,
        environments=ENVIRONMENTS, alerts=alerts,
    )  # fmt: skip
    return TestClient(create_app(services)), store, clock


def as_(role: str, subject: str) -> dict:
    return {"Authorization": f"Bearer {mint(SECRET, subject, role, 3600)}"}


BOB, ALICE, ADMIN = as_("deployer", "bob"), as_("approver", "alice"), as_("admin", "root")


def promote(client, to: str, who: dict, version: int = 2, **extra):
    body = {"to": to, "reason": "fixes the drift", "ticket": "CHG-42", **extra}
    return client.post(f"/api/v1/models/fraud/versions/{version}/promote", json=body, headers=who)


def approve(client, environment: str, who: dict, version: int = 2):
    body = {"for": environment, "reason": "dashboards look fine", "ticket": "CHG-42"}
    return client.post(f"/api/v1/models/fraud/versions/{version}/approve", json=body, headers=who)


def finish(store, rollout_id: str, phase: Phase = Phase.SUCCEEDED) -> None:
    """End a rollout as the loop would."""
    record = store.get(rollout_id)
    store.save(record.model_copy(update={"phase": phase}), "controller", phase.value.lower(), [], {})


def test_the_whole_path_from_dev_to_production(api):
    client, store, clock = api
    refused = promote(client, "production", BOB)
    assert refused.status_code == 409 and "has not been rolled out in dev" in refused.json()["detail"]
    assert approve(client, "production", ALICE).status_code == 409  # nothing to approve yet

    dev = promote(client, "dev", BOB)
    assert dev.status_code == 201, dev.text
    dev = dev.json()
    assert (dev["environment"], dev["spec"]["strategy"], dev["promotion"]["ticket"]) == (
        "dev",
        "shadow",
        "CHG-42",
    )
    assert "being rolled out in dev" in promote(client, "production", BOB).json()["detail"]
    finish(store, dev["id"])

    assert approve(client, "production", BOB).status_code == 403  # a deployer is no approver
    approved = approve(client, "production", ALICE)
    assert approved.status_code == 201 and approved.json()["upstream"] == dev["id"]
    four_eyes = promote(client, "production", ALICE)
    assert four_eyes.status_code == 409 and "requires four eyes" in four_eyes.json()["detail"]
    soaking = promote(client, "production", BOB)
    assert (
        soaking.status_code == 409
        and f"of the {SOAK_S:.0f} s production requires" in soaking.json()["detail"]
    )
    check = client.get(
        "/api/v1/models/fraud/versions/2/eligibility", params={"to": "production"}, headers=BOB
    )
    assert check.json()["allowed"] is False and len(check.json()["reasons"]) == 1

    clock.ahead = SOAK_S + 1
    production = promote(client, "production", BOB)
    assert production.status_code == 201, production.text
    record = production.json()
    assert (record["environment"], record["spec"]["strategy"], record["stable"]) == (
        "production",
        "canary",
        1,
    )
    promotion = record["promotion"]
    assert promotion["upstream"]["rollout"] == dev["id"] and promotion["upstream"]["phase"] == "Succeeded"
    assert (
        promotion["approvals"] == [f"{approved.json()['id']} by alice"]
        and promotion["reason"] == "fixes the drift"
    )

    entries = client.get("/api/v1/audit", headers=ADMIN).json()
    steps = [(e["actor"], e["action"]) for e in entries["entries"] if e["action"] not in ("succeeded",)]
    assert steps == [
        ("bob", "promote-refused"), ("alice", "approve-refused"), ("bob", "promote"),
        ("bob", "promote-refused"), ("bob", "denied"), ("alice", "approve"), ("alice", "promote-refused"),
        ("bob", "promote-refused"), ("bob", "promote"),
    ]  # fmt: skip
    assert entries["valid"]
    last = entries["entries"][-1]["detail"]
    assert last["promotion"]["upstream"]["rollout"] == dev["id"] and last["promotion"]["ticket"] == "CHG-42"
    refusal = next(e for e in entries["entries"] if e["action"] == "promote-refused")["detail"]
    assert refusal["reasons"] and refusal["ticket"] == "CHG-42" and refusal["environment"] == "production"


def test_a_rollback_upstream_revokes_eligibility_and_the_approval(api):
    client, store, clock = api
    first = promote(client, "dev", BOB).json()
    finish(store, first["id"])
    assert approve(client, "production", ALICE).status_code == 201
    clock.ahead = SOAK_S + 1
    assert client.get("/api/v1/models/fraud/versions/2/eligibility", params={"to": "production"},
                      headers=BOB).json()["allowed"]  # fmt: skip

    again = promote(client, "dev", BOB).json()  # a re-verification in dev, which fails
    finish(store, again["id"], Phase.ROLLED_BACK)
    revoked = promote(client, "production", BOB)
    assert (
        revoked.status_code == 409
        and f"latest rollout in dev ({again['id']}) ended RolledBack" in revoked.text
    )

    third = promote(client, "dev", BOB).json()
    finish(store, third["id"])
    clock.ahead = 2 * SOAK_S + 1
    stale = promote(client, "production", BOB)
    assert stale.status_code == 409 and "was for an earlier rollout in dev" in stale.json()["detail"]
    assert approve(client, "production", ALICE).json()["upstream"] == third["id"]
    assert promote(client, "production", BOB).status_code == 201


@pytest.mark.parametrize(
    ("call", "status", "says"),
    [
        pytest.param(lambda c: promote(c, "qa", BOB), 404, "no environment 'qa'", id="unknown-environment"),
        pytest.param(lambda c: promote(c, "dev", BOB, version=9), 404, "version 9", id="unknown-version"),
        pytest.param(lambda c: promote(c, "dev", BOB, version=1), 409, "already serves",
                     id="already-serving"),
        pytest.param(lambda c: promote(c, "dev", as_("viewer", "vic")), 403, "deployer", id="viewer"),
        pytest.param(lambda c: promote(c, "dev", {}), 401, "bearer", id="no-token"),
        pytest.param(lambda c: promote(c, "dev", BOB, colour="red"), 422, "colour", id="unknown-field"),
        pytest.param(lambda c: approve(c, "dev", ALICE), 409, "needs no approval",
                     id="dev-needs-no-approval"),
        pytest.param(lambda c: c.post("/api/v1/models/fraud/versions/2/approve", json={"for": "production"},
                                      headers=ALICE), 422, "reason", id="approval-without-reason"),
    ],
)  # fmt: skip
def test_mistakes_are_4xx_naming_them(api, call, status, says):
    answer = call(api[0])
    assert answer.status_code == status, answer.text
    assert says in answer.text


def test_environments_and_approvals_are_listed(api):
    client, store, _ = api
    listed = client.get("/api/v1/environments", headers=as_("viewer", "vic")).json()
    assert [e["name"] for e in listed["environments"]] == ["dev", "production"]
    assert listed["environments"][1]["approval"] == {"role": "approver", "four_eyes": True}
    finish(store, promote(client, "dev", BOB).json()["id"])
    approve(client, "production", ALICE)
    approvals = client.get(
        "/api/v1/approvals", params={"model": "fraud"}, headers=as_("viewer", "vic")
    ).json()
    assert [(a["actor"], a["environment"], a["version"]) for a in approvals] == [("alice", "production", 2)]


def test_an_alert_about_the_version_since_its_success_upstream_blocks_approval_and_promotion(api, alerts):
    client, store, clock = api
    dev = promote(client, "dev", BOB).json()
    finish(store, dev["id"])
    succeeded = store.get(dev["id"]).updated
    assert approve(client, "production", ALICE).status_code == 201
    alerts.firing.append(Alert("RaynomalyScoreDrift", "fraud", 2, succeeded + 1))
    clock.ahead = SOAK_S + 1
    blocked = promote(client, "production", BOB)
    assert blocked.status_code == 409 and "RaynomalyScoreDrift fired about v2" in blocked.json()["detail"]
    refused = approve(client, "production", ALICE)
    assert refused.status_code == 409 and "nothing to approve yet" in refused.json()["detail"]
    assert ("fraud", 2, succeeded) in alerts.asked  # asked from the success on, not before

    alerts.firing.clear()
    allowed = promote(client, "production", BOB)
    assert allowed.status_code == 201 and allowed.json()["promotion"]["alerts_checked"] is True
