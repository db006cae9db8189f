"""Eligibility is a pure function of the rollout records, the approvals, the alerts and the time:
truth tables for promoting fraud v2 from dev to production."""

import pytest

from controller.environments.eligibility import Alert, eligibility, verified
from controller.environments.records import Approval
from controller.environments.spec import Environment
from controller.rollouts.state import Phase
from tests.controller.factories import rollout

NOW = 10_000.0
PRODUCTION = Environment(name="production", upstream="dev", soak=600,
                         approval={"role": "approver", "four_eyes": True})  # fmt: skip
OPEN = Environment(name="production", upstream="dev")
"""No soak, no approval."""


def ran(rid: str, env: str, phase: Phase, at: float, candidate: int = 2, stable: int = 1,
        strategy: str = "canary", reason: str = "") -> object:  # fmt: skip
    """A rollout of fraud v`candidate` in `env`, created at `at`, last saved 100 s later."""
    record = rollout(strategy, stable=stable, candidate=candidate)
    return record.model_copy(update={"id": rid, "environment": env, "phase": phase, "created": at,
                                     "updated": at + 100, "reason": reason})  # fmt: skip


def approval(actor: str = "alice", role: str = "approver", upstream: str | None = "d1",
             environment: str = "production", version: int = 2) -> Approval:  # fmt: skip
    return Approval(model="fraud", version=version, environment=environment, actor=actor, role=role,
                    reason="looked at the dashboards", upstream=upstream, created=NOW - 10)  # fmt: skip


SUCCEEDED = ran("d1", "dev", Phase.SUCCEEDED, 1000)


@pytest.mark.parametrize(
    ("rollouts", "approvals", "promoter", "now", "alerts", "says"),
    [
        pytest.param([SUCCEEDED], [approval()], "bob", NOW, [], None, id="verified-soaked-approved"),
        pytest.param([], [approval()], "bob", NOW, [], "has not been rolled out in dev", id="never-upstream"),
        pytest.param([ran("x", None, Phase.SUCCEEDED, 1000)], [], "bob", NOW, [],
                     "has not been rolled out in dev", id="a-direct-deploy-is-no-upstream-success"),
        pytest.param([ran("x", "staging", Phase.SUCCEEDED, 1000)], [], "bob", NOW, [],
                     "has not been rolled out in dev", id="another-environments-success-does-not-count"),
        pytest.param([ran("d1", "dev", Phase.PROGRESSING, 1000)], [approval()], "bob", NOW, [],
                     "being rolled out in dev now", id="upstream-in-progress"),
        pytest.param([ran("d1", "dev", Phase.ROLLED_BACK, 1000, reason="p99 regressed")], [], "bob", NOW, [],
                     "ended RolledBack: p99 regressed", id="upstream-rolled-back"),
        pytest.param([SUCCEEDED, ran("d2", "dev", Phase.FAILED, 2000)], [approval()], "bob", NOW, [],
                     "ended Failed", id="a-later-failure-revokes"),
        pytest.param([SUCCEEDED, ran("d2", "dev", Phase.ABORTED, 2000)], [approval()], "bob", NOW, [],
                     "ended Aborted", id="a-later-abort-revokes"),
        pytest.param([SUCCEEDED, ran("d2", "dev", Phase.SUCCEEDED, 2000, candidate=1, stable=2)],
                     [approval()], "bob", NOW, [], "moved back from v2 to v1", id="moved-back-revokes"),
        pytest.param([SUCCEEDED, ran("d2", "dev", Phase.SUCCEEDED, 2000, candidate=1, stable=2,
                                     strategy="shadow")],
                     [approval()], "bob", NOW, [], None, id="a-shadow-of-the-old-version-moves-nothing"),
        pytest.param([SUCCEEDED, ran("d2", "dev", Phase.ROLLED_BACK, 2000, candidate=3, stable=2)],
                     [approval()], "bob", NOW, [], None, id="another-versions-rollback-does-not-revoke"),
        pytest.param([SUCCEEDED], [approval()], "bob", 1500, [], "soaked in dev for 400 s of the 600 s",
                     id="soak-not-over"),
        pytest.param([SUCCEEDED], [approval()], "bob", NOW, [Alert("RaynomalyScoreDrift", "fraud", 2, 5000)],
                     "RaynomalyScoreDrift fired about v2", id="an-alert-since-revokes"),
        pytest.param([SUCCEEDED], [approval()], "bob", NOW, [Alert("RaynomalyScoreDrift", "fraud", 2, 900)],
                     None, id="an-alert-before-the-success-does-not"),
        pytest.param([SUCCEEDED], [approval()], "bob", NOW, [Alert("RaynomalyScoreDrift", "fraud", 3, 5000)],
                     None, id="an-alert-about-another-version-does-not"),
        pytest.param([SUCCEEDED], [], "bob", NOW, [], "needs an approval of v2", id="no-approval"),
        pytest.param([SUCCEEDED], [approval(actor="bob")], "bob", NOW, [], "requires four eyes",
                     id="approver-cannot-promote"),
        pytest.param([SUCCEEDED], [approval(actor="bob"), approval(actor="carol")], "bob", NOW, [], None,
                     id="a-second-approver-suffices"),
        pytest.param([SUCCEEDED], [approval(role="deployer")], "bob", NOW, [], "needs an approval",
                     id="a-deployers-approval-does-not-count"),
        pytest.param([SUCCEEDED], [approval(role="admin")], "bob", NOW, [], None, id="an-admin-may-approve"),
        pytest.param([SUCCEEDED], [approval(environment="staging")], "bob", NOW, [], "needs an approval",
                     id="approvals-do-not-leak-across-environments"),
        pytest.param([SUCCEEDED], [approval(version=3)], "bob", NOW, [], "needs an approval",
                     id="approvals-do-not-leak-across-versions"),
        pytest.param([ran("d0", "dev", Phase.SUCCEEDED, 500), ran("d1", "dev", Phase.ROLLED_BACK, 700),
                      SUCCEEDED], [approval(upstream="d0")], "bob", NOW, [], "was for an earlier rollout",
                     id="an-approval-of-earlier-evidence-expires"),
    ],
)  # fmt: skip
def test_eligibility(rollouts, approvals, promoter, now, alerts, says):
    standing = eligibility(PRODUCTION, "fraud", 2, rollouts, approvals, promoter, now, alerts)
    if says is None:
        assert standing.allowed, standing.reasons
        assert standing.upstream.id == "d1" and standing.approvals
    else:
        assert not standing.allowed
        assert any(says in reason for reason in standing.reasons), standing.reasons


def test_every_reason_is_named_at_once():
    standing = eligibility(PRODUCTION, "fraud", 2, [SUCCEEDED], [], "bob", 1500)
    assert len(standing.reasons) == 2  # the soak and the approval
    assert (
        "soaked" in standing.reasons[0]
        and "raynomaly approve fraud 2 --for production" in standing.reasons[1]
    )


def test_without_upstream_success_the_approval_is_asked_for_later():
    standing = eligibility(PRODUCTION, "fraud", 2, [], [], "bob", NOW)
    assert [r for r in standing.reasons if "once v2 is verified upstream" in r]


@pytest.mark.parametrize(
    ("environment", "rollouts", "allowed"),
    [
        pytest.param(OPEN, [SUCCEEDED], True, id="no-soak-no-approval"),
        pytest.param(OPEN, [], False, id="still-needs-upstream"),
        pytest.param(Environment(name="dev"), [], True, id="first-environment-open"),
        pytest.param(Environment(name="dev", approval={"four_eyes": False}), [], False,
                     id="first-environment-with-approval"),
    ],
)  # fmt: skip
def test_policies(environment, rollouts, allowed):
    assert eligibility(environment, "fraud", 2, rollouts, [], "bob", NOW).allowed is allowed


def test_without_four_eyes_the_approver_may_promote():
    relaxed = PRODUCTION.model_copy(
        update={"approval": PRODUCTION.approval.model_copy(update={"four_eyes": False})}
    )
    assert eligibility(relaxed, "fraud", 2, [SUCCEEDED], [approval(actor="bob")], "bob", NOW).allowed


def test_the_latest_upstream_rollout_decides():
    again = ran("d3", "dev", Phase.SUCCEEDED, 3000)
    standing = verified("dev", "fraud", 2, [SUCCEEDED, ran("d2", "dev", Phase.ROLLED_BACK, 2000), again])
    assert standing.rollout.id == "d3" and standing.since == 3100
