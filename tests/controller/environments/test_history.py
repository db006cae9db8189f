"""Which version served an environment when, read from the rollout records (pure)."""

import pytest

from controller.environments.history import environment_of, first_known, periods, serving_at
from controller.rollouts.spec import Rollout
from controller.rollouts.state import Phase
from tests.controller.factories import rollout

OK, BACK, ABORTED, FAILED, RUNNING = (
    Phase.SUCCEEDED, Phase.ROLLED_BACK, Phase.ABORTED, Phase.FAILED, Phase.PROGRESSING,
)  # fmt: skip


def record(
    id: str,
    stable: int | None,
    candidate: int,
    phase: Phase,
    created: float,
    updated: float,
    *,
    promoted_at: float | None = None,
    environment: str | None = "production",
    strategy: str = "canary",
) -> Rollout:
    """A rollout of fraud v`candidate` over v`stable` in `environment` (None: a direct deploy on the
    local target)."""
    made = rollout(strategy, stable=stable, candidate=candidate)
    return made.model_copy(update={"id": id, "phase": phase, "created": created, "updated": updated,
                                   "promoted_at": promoted_at, "environment": environment})  # fmt: skip


def rows(found) -> list[tuple]:
    return [(p.environment, p.version, p.start, p.end, p.rollout, p.how) for p in found]


BEFORE = "before the records"
TWO_CANARIES = [
    record("a", 1, 2, OK, 10.0, 21.0, promoted_at=20.0),
    record("b", 2, 3, OK, 30.0, 40.0, strategy="blue-green"),
]
IN_PROGRESS = [record("a", 1, 2, OK, 10.0, 21.0, promoted_at=20.0), record("b", 2, 3, RUNNING, 30.0, 31.0)]
TWO_ENVIRONMENTS = [
    record("d", 1, 2, OK, 10.0, 20.0, environment="dev"),
    record("p", 1, 2, OK, 40.0, 50.0),
]


@pytest.mark.parametrize(
    ("records", "environment", "expected"),
    [
        pytest.param(TWO_CANARIES, None, [
            ("production", 3, 40.0, None, "b", "blue-green"),
            ("production", 2, 20.0, 40.0, "a", "canary"),
            ("production", 1, None, 20.0, None, BEFORE),
        ], id="canary-success-then-another-switches-at-promotion-else-last-save"),
        pytest.param([
            record("a", 1, 2, OK, 10.0, 20.0),
            record("b", 2, 3, BACK, 30.0, 35.0),
            record("c", 2, 4, OK, 40.0, 50.0, promoted_at=50.0),
        ], None, [
            ("production", 4, 50.0, None, "c", "canary"),
            ("production", 2, 20.0, 50.0, "a", "canary"),
            ("production", 1, None, 20.0, None, BEFORE),
        ], id="a-rollback-in-between-changes-nothing"),
        pytest.param([
            record("a", 1, 2, ABORTED, 10.0, 20.0),
            record("b", 1, 2, FAILED, 30.0, 35.0),
        ], None, [("production", 1, None, None, None, BEFORE)], id="aborted-and-failed-change-nothing"),
        pytest.param([
            record("a", 1, 2, OK, 10.0, 20.0, environment="dev", strategy="shadow"),
        ], None, [("dev", 1, None, None, None, BEFORE)], id="a-shadow-success-is-ignored"),
        pytest.param([
            record("a", 1, 1, OK, 10.0, 20.0, strategy="rolling"),
        ], None, [("production", 1, None, None, None, BEFORE)], id="an-in-place-change-is-ignored"),
        pytest.param(TWO_ENVIRONMENTS, None, [
            ("production", 2, 50.0, None, "p", "canary"),
            ("production", 1, None, 50.0, None, BEFORE),
            ("dev", 2, 20.0, None, "d", "canary"),
            ("dev", 1, None, 20.0, None, BEFORE),
        ], id="two-environments-kept-apart"),
        pytest.param(TWO_ENVIRONMENTS, "dev", [
            ("dev", 2, 20.0, None, "d", "canary"),
            ("dev", 1, None, 20.0, None, BEFORE),
        ], id="one-environment-asked-for"),
        pytest.param([
            record("a", 1, 2, OK, 10.0, 20.0, environment=None),
            record("b", 1, 3, OK, 30.0, 40.0),
        ], "local", [
            ("local", 2, 20.0, None, "a", "canary"),
            ("local", 1, None, 20.0, None, BEFORE),
        ], id="direct-deploys-grouped-under-their-target"),
        pytest.param(IN_PROGRESS, None, [
            ("production", 3, 30.0, None, "b", "canary, Progressing"),
            ("production", 2, 20.0, None, "a", "canary"),
            ("production", 1, None, 20.0, None, BEFORE),
        ], id="in-progress-shows-open-and-first"),
        pytest.param([record("a", None, 1, OK, 10.0, 20.0)], None, [
            ("production", 1, 20.0, None, "a", "canary"),
        ], id="a-first-version-has-nothing-before-it"),
        pytest.param([record("a", None, 1, BACK, 10.0, 20.0)], None, [], id="no-version-ever-served"),
    ],
)  # fmt: skip
def test_periods(records, environment, expected):
    assert rows(periods("fraud", records, environment)) == expected


def test_other_models_are_left_out():
    other = record("x", 1, 2, OK, 10.0, 20.0).model_copy(
        update={"spec": rollout(stable=1, candidate=2).spec.model_copy(update={"model": "churn"})}
    )
    assert periods("fraud", [other]) == []


def test_in_progress_is_flagged():
    assert [p.in_progress for p in periods("fraud", IN_PROGRESS)] == [True, False, False]


@pytest.mark.parametrize(
    ("records", "at", "expected"),
    [
        pytest.param(TWO_CANARIES, 5.0, [], id="before-the-records-begin"),
        pytest.param(TWO_CANARIES, 10.0, [("production", 1)], id="from-the-first-rollouts-creation"),
        pytest.param(TWO_CANARIES, 15.0, [("production", 1)], id="inside-the-period-of-unknown-start"),
        pytest.param(TWO_CANARIES, 20.0, [("production", 2)], id="the-switch-instant-is-the-new-version"),
        pytest.param(TWO_CANARIES, 39.9, [("production", 2)], id="inside-a-closed-period"),
        pytest.param(TWO_CANARIES, 1e9, [("production", 3)], id="after-every-switch-the-open-period"),
        pytest.param(IN_PROGRESS, 35.0, [("production", 2)], id="an-in-progress-rollout-never-holds"),
        pytest.param(TWO_ENVIRONMENTS, 45.0, [("production", 1), ("dev", 2)], id="one-per-environment"),
    ],
)
def test_serving_at(records, at, expected):
    assert [(p.environment, p.version) for p in serving_at(periods("fraud", records), at)] == expected


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        pytest.param(TWO_CANARIES, 10.0, id="the-first-rollouts-creation"),
        pytest.param([record("a", None, 1, OK, 10.0, 20.0)], 20.0, id="the-first-switch"),
        pytest.param([record("a", None, 1, RUNNING, 10.0, 20.0)], None, id="nothing-but-in-progress"),
    ],
)
def test_first_known(records, expected):
    assert first_known(periods("fraud", records)) == expected


@pytest.mark.parametrize(
    ("environment", "target", "expected"),
    [
        pytest.param("production", {}, "production", id="promoted"),
        pytest.param(None, {}, "local", id="direct-deploy-local"),
        pytest.param(
            None,
            {"kind": "kuberay", "namespace": "serving", "rayservice": "rs"},
            "kuberay:serving/rs",
            id="direct-deploy-kuberay",
        ),  # fmt: skip
    ],
)
def test_environment_of(environment, target, expected):
    made = rollout(target=target)
    assert environment_of(made.model_copy(update={"environment": environment})) == expected
