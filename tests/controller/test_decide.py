"""`next_action` as truth tables: what every strategy does after each kind of window."""

import pytest

from controller.analysis.verdict import Measurement, Outcome, Verdict
from controller.rollouts.create import RolloutRefused, new_rollout
from controller.rollouts.decide import CommandRefused, check_command, next_action
from controller.rollouts.spec import Counts, Phase, RolloutSpec
from controller.targets.cluster import ClusterChange
from controller.targets.spec import Served, TargetRef
from runtime.traffic import ModelTraffic
from tests.controller.factories import ERROR, FAILED, INCONCLUSIVE, JUDGED_WORSE, OK, rollout


def run(record, *verdicts, now: float = 100.0):
    """Start the rollout, then feed it one verdict per analysed window; the final record."""
    record = next_action(record, None, now).rollout.model_copy(update={"applied": True})
    for v in verdicts:
        decision = next_action(record, v, now)
        record = decision.rollout.model_copy(update={"applied": True})
        if not record.active:
            break
    return record


@pytest.mark.parametrize(
    ("verdicts", "phase", "weights"),
    [
        pytest.param([], Phase.PROGRESSING, {1: 90, 2: 10}, id="starts-at-the-first-step"),
        pytest.param([OK], Phase.PROGRESSING, {1: 50, 2: 50}, id="passing-window-advances"),
        pytest.param([OK, OK], Phase.PROMOTING, {1: 0, 2: 100}, id="last-step-promotes-keeping-stable-at-0"),
        pytest.param(
            [FAILED], Phase.PROGRESSING, {1: 90, 2: 10}, id="one-ceiling-failure-within-limit-holds"
        ),
        pytest.param([JUDGED_WORSE], Phase.ROLLED_BACK, {1: 100}, id="a-failed-judge-rolls-back-at-once"),
        pytest.param([OK, JUDGED_WORSE], Phase.ROLLED_BACK, {1: 100}, id="a-failed-judge-at-a-later-step"),
        pytest.param([FAILED, FAILED], Phase.ROLLED_BACK, {1: 100}, id="failures-beyond-limit-roll-back"),
        pytest.param([OK, FAILED, FAILED], Phase.ROLLED_BACK, {1: 100}, id="rollback-from-a-later-step"),
        pytest.param([FAILED, OK, FAILED], Phase.PROGRESSING, {1: 50, 2: 50}, id="a-pass-resets-the-count"),
        pytest.param([ERROR] * 3, Phase.PAUSED, {1: 90, 2: 10}, id="source-errors-pause-never-roll-back"),
        pytest.param([INCONCLUSIVE] * 4, Phase.PAUSED, {1: 90, 2: 10}, id="no-data-pauses-never-rolls-back"),
        pytest.param([INCONCLUSIVE] * 3, Phase.PROGRESSING, {1: 90, 2: 10}, id="no-data-within-limit-holds"),
    ],
)
def test_canary(verdicts, phase, weights):
    final = run(rollout("canary", {"steps": [10, 50, 100]}, failure_limit=1), *verdicts)
    assert final.phase == phase
    assert final.traffic.weights == weights


def test_canary_promotion_succeeds_once_applied_and_removes_the_stable_version():
    promoting = run(rollout("canary", {"steps": [10, 100]}), OK)
    assert promoting.phase == Phase.PROMOTING
    assert next_action(promoting.model_copy(update={"applied": False}), None, 1.0) is None  # not yet applied
    done = next_action(promoting, None, 1.0).rollout
    assert done.phase == Phase.SUCCEEDED and done.traffic.weights == {2: 100} and not done.applied


def test_failure_limit_zero_rolls_back_on_the_first_failed_window():
    assert run(rollout("canary", failure_limit=0), FAILED).phase == Phase.ROLLED_BACK


def test_rollback_reason_carries_the_measurement():
    record = run(rollout("canary"), FAILED)
    decision = next_action(record, FAILED, 1.0)
    assert decision.name == "rollback" and "p99_ms was Failed" in decision.reason
    assert decision.rollout.counts == Counts(failed=2)
    judged = next_action(run(rollout("canary")), JUDGED_WORSE, 1.0)
    assert judged.name == "rollback" and "latency was Failed" in judged.reason


def _unseen(samples: float, needed: float) -> Verdict:
    judge = Measurement("latency", Outcome.SUCCESSFUL, 1.0, 1.5, "latency 1", kind="judge",
                        p_value=0.5, alpha=0.001, samples=samples, needed=needed)  # fmt: skip
    return Verdict.of([judge])


@pytest.mark.parametrize(
    ("verdict", "said"),
    [
        pytest.param(
            _unseen(50, 500), "latency needs ~90 s more at 5.0/s", id="short-of-evidence-says-how-long"
        ),
        pytest.param(_unseen(50, 40), None, id="enough-evidence-says-nothing-more"),
    ],
)
def test_an_advance_says_which_judges_had_too_little_evidence(verdict, said):
    record = run(rollout("canary", {"steps": [10, 50, 100]})).model_copy(update={"evidence_s": 10.0})
    decision = next_action(record, verdict, 1.0)
    assert decision.name == "advance" and decision.rollout.traffic.weights == {1: 50, 2: 50}
    assert (said in decision.reason) if said else ("too little evidence" not in decision.reason)


def test_waiting_for_evidence_holds_a_short_step_then_pauses_saying_what_it_needs():
    record = run(rollout("canary", {"steps": [10, 50, 100]}, wait_for_evidence=True, inconclusive_limit=1))
    record = record.model_copy(update={"evidence_s": 10.0})
    held = next_action(record, _unseen(50, 500), 1.0)
    assert held.name == "hold" and held.rollout.counts.inconclusive == 1
    paused = next_action(held.rollout, _unseen(50, 500), 2.0)
    assert paused.rollout.phase == Phase.PAUSED and "latency needs ~90 s more" in paused.reason
    assert next_action(record, _unseen(500, 400), 3.0).name == "advance"  # enough evidence: on it goes


def test_a_pause_keeps_the_steps_evidence_for_the_resume():
    record = run(rollout("canary")).model_copy(
        update={"evidence": {"x": 5.0}, "evidence_s": 30.0, "p_values": {"latency": 0.2}}
    )
    paused = next_action(record.model_copy(update={"command": "pause"}), None, 1.0).rollout
    resumed = next_action(paused.model_copy(update={"command": "resume", "applied": True}), None, 2.0).rollout
    assert resumed.phase == Phase.PROGRESSING and resumed.evidence == {"x": 5.0}
    assert resumed.evidence_s == 30.0 and resumed.p_values == {"latency": 0.2}
    advanced = next_action(resumed, OK, 3.0).rollout
    assert advanced.evidence == {} and advanced.p_values == {}  # a new step gathers afresh


@pytest.mark.parametrize(
    ("verdicts", "phase", "weights", "shadows"),
    [
        pytest.param([], Phase.PROGRESSING, {1: 100}, {2: 100.0}, id="candidate-waits-at-0-fed-by-shadow"),
        pytest.param([OK], Phase.PROMOTING, {2: 100}, {1: 100.0}, id="one-switch-old-version-kept-warm"),
        pytest.param([FAILED, FAILED], Phase.ROLLED_BACK, {1: 100}, {}, id="pre-promotion-failure"),
        pytest.param(
            [OK, FAILED, FAILED], Phase.ROLLED_BACK, {1: 100}, {}, id="post-promotion-switches-back"
        ),
        pytest.param([OK, OK], Phase.PROMOTING, {2: 100}, {1: 100.0}, id="holds-while-warm"),
    ],
)
def test_blue_green(verdicts, phase, weights, shadows):
    final = run(rollout("blue-green", {"warm_s": 300}), *verdicts)
    assert (final.phase, final.traffic.weights, final.traffic.shadows) == (phase, weights, shadows)


def test_blue_green_succeeds_after_the_warm_period():
    promoted = run(rollout("blue-green", {"warm_s": 60}), OK, now=100.0)
    assert promoted.promoted_at == 100.0
    assert next_action(promoted, OK, 159.0).rollout.phase == Phase.PROMOTING
    done = next_action(promoted, OK, 161.0).rollout
    assert done.phase == Phase.SUCCEEDED and done.traffic == ModelTraffic(weights={2: 100})


@pytest.mark.parametrize(
    ("verdicts", "phase", "shadows"),
    [
        pytest.param([OK], Phase.PROGRESSING, {2: 50.0}, id="mirror-grows"),
        pytest.param([OK, OK], Phase.SUCCEEDED, {}, id="report-and-remove-the-mirror"),
        pytest.param([FAILED, FAILED], Phase.FAILED, {}, id="fails-without-user-impact"),
    ],
)
def test_shadow_never_routes_callers_to_the_candidate(verdicts, phase, shadows):
    final = run(rollout("shadow", {"steps": [10, 50]}), *verdicts)
    assert final.phase == phase and final.traffic.weights == {1: 100} and final.traffic.shadows == shadows


def test_rolling_applies_options_in_place_and_restores_them_on_failure():
    from runtime.desired import Batching, ScorerOptions

    old, new = ScorerOptions(), ScorerOptions(batching=Batching(batch_wait_timeout_s=0.05))
    spec = RolloutSpec(model="fraud", candidate=1, rolling={}, options=new, failure_limit=0)
    record = new_rollout(spec, Served(ModelTraffic(weights={1: 100}), {1: old}), 0.0)
    assert record.options == old  # nothing changed yet
    started = next_action(record, None, 0.0).rollout
    assert started.options == new and started.traffic.weights == {1: 100} and not started.applied
    failed = next_action(started.model_copy(update={"applied": True}), FAILED, 1.0).rollout
    assert failed.phase == Phase.FAILED and failed.options == old


KUBERAY = TargetRef(kind="kuberay", namespace="serving", rayservice="raynomaly")


def test_an_upgrade_hands_the_image_to_kuberay_and_reverts_it_on_a_failed_window():
    old, new = ClusterChange(image="raynomaly:1.0"), ClusterChange(image="raynomaly:1.1")
    spec = RolloutSpec(model="fraud", candidate=1, upgrade=new, target=KUBERAY, failure_limit=0)
    record = new_rollout(spec, Served(ModelTraffic(weights={1: 100}), {}, old), 0.0)
    assert record.cluster is None and record.previous_cluster == old  # nothing asked of KubeRay yet
    started = next_action(record, None, 0.0).rollout
    assert started.cluster == new and started.traffic.weights == {1: 100} and not started.applied
    applied = started.model_copy(update={"applied": True})
    assert next_action(applied, OK, 1.0).rollout.phase == Phase.SUCCEEDED
    failed = next_action(applied, FAILED, 1.0).rollout
    assert failed.phase == Phase.FAILED and failed.cluster == old and not failed.applied
    aborted = next_action(applied.model_copy(update={"command": "abort"}), None, 1.0).rollout
    assert aborted.phase == Phase.ABORTED and aborted.cluster == old


@pytest.mark.parametrize(
    ("served", "candidate", "message"),
    [
        pytest.param(Served(ModelTraffic(weights={1: 100}), {}, None), 1, "no cluster", id="no-cluster"),
        pytest.param(Served(ModelTraffic(weights={1: 100}), {}, ClusterChange(image="raynomaly:1.1")), 1,
                     "already runs", id="already-upgraded"),
        pytest.param(Served(ModelTraffic(weights={1: 100}), {}, ClusterChange(image="raynomaly:1.0")), 2,
                     "name v1", id="not-the-serving-version"),
    ],
)  # fmt: skip
def test_an_upgrade_that_cannot_start_is_refused(served, candidate, message):
    spec = RolloutSpec(model="fraud", candidate=candidate, upgrade=ClusterChange(image="raynomaly:1.1"),
                       target=KUBERAY)  # fmt: skip
    with pytest.raises(RolloutRefused, match=message):
        new_rollout(spec, served, 0.0)


@pytest.mark.parametrize(
    ("command", "phase", "weights"),
    [
        pytest.param("abort", Phase.ABORTED, {1: 100}, id="abort-returns-traffic"),
        pytest.param("rollback", Phase.ROLLED_BACK, {1: 100}, id="manual-rollback"),
        pytest.param("promote", Phase.PROMOTING, {1: 0, 2: 100}, id="promote-skips-analysis"),
        pytest.param("pause", Phase.PAUSED, {1: 90, 2: 10}, id="pause-keeps-weights"),
    ],
)
def test_commands(command, phase, weights):
    running = run(rollout("canary"))
    decision = next_action(running.model_copy(update={"command": command}), None, 1.0)
    assert decision.rollout.phase == phase and decision.rollout.traffic.weights == weights
    assert decision.rollout.command is None


def test_paused_rollout_waits_and_resumes_where_it_was():
    paused = next_action(
        run(rollout("canary"), OK).model_copy(update={"command": "pause"}), None, 1.0
    ).rollout
    assert next_action(paused, OK, 2.0) is None
    resumed = next_action(paused.model_copy(update={"command": "resume"}), None, 3.0).rollout
    assert resumed.phase == Phase.PROGRESSING and resumed.step == 1 and resumed.window_started is None


@pytest.mark.parametrize(
    ("phase", "command"),
    [(Phase.SUCCEEDED, "abort"), (Phase.PROGRESSING, "resume"), (Phase.ROLLED_BACK, "promote")],
)
def test_commands_that_do_not_apply_are_refused_naming_what_does(phase, command):
    with pytest.raises(CommandRefused, match=f"cannot {command}.*applies to"):
        check_command(rollout().model_copy(update={"phase": phase}), command)


def test_first_version_is_promoted_directly():
    started = next_action(rollout("canary", stable=None), None, 0.0).rollout
    assert started.phase == Phase.PROMOTING and started.traffic.weights == {2: 100}
