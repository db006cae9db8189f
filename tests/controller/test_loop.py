"""The controller loop over doubles of its seams: whole rollouts tick by tick, crashes included."""

import pytest

from controller.analysis.thresholds import Thresholds
from controller.analysis.verdict import VERDICT, Look, Outcome, looks
from controller.loop import Controller
from controller.rollouts.create import new_rollout
from controller.rollouts.spec import Phase, RolloutSpec
from controller.store import open_store
from runtime.traffic import ModelTraffic
from tests.controller.doubles import Clock, ClusterDouble, Killed, TargetDouble, TrafficSource

FAST = Thresholds(min_requests=20)


@pytest.fixture
def world(tmp_path):
    target = TargetDouble(ModelTraffic(weights={1: 100}))
    clock = Clock()
    return tmp_path / "rollouts.db", target, clock


def start(world, latency_ms, **spec):
    path, target, clock = world
    store = open_store(str(path))
    source = TrafficSource(target, latency_ms)
    spec = RolloutSpec(model="fraud", candidate=2, interval_s=10, thresholds=FAST, **spec)
    rollout = store.create(new_rollout(spec, target.served("fraud"), clock()), "alice")
    return store, source, Controller(store, lambda ref: target, source, clock=clock), rollout.id


def drive(controller, source, clock, seconds: float, tick_s: float = 1.0) -> None:
    for _ in range(int(seconds / tick_s)):
        controller.tick()
        clock.now += tick_s
        source.advance(tick_s)


def test_a_healthy_canary_walks_every_step_and_succeeds(world):
    store, source, controller, rollout_id = start(world, {1: 4.0, 2: 4.0}, steps=[10, 50, 100])
    drive(controller, source, world[2], 60)
    assert store.get(rollout_id).phase == Phase.SUCCEEDED
    assert world[1].applied == [
        ({1: 90, 2: 10}, {}),
        ({1: 50, 2: 50}, {}),
        ({1: 0, 2: 100}, {}),
        ({2: 100}, {}),
    ]
    kinds = [(e["kind"], e["name"]) for e in store.events(rollout_id)]
    assert kinds.count(("verdict", "Successful")) == 2


def test_a_slow_candidate_is_rolled_back_at_the_first_look_that_shows_it(world):
    store, source, controller, rollout_id = start(world, {1: 4.0, 2: 40.0}, failure_limit=1)
    drive(controller, source, world[2], 60)
    record = store.get(rollout_id)
    assert record.phase == Phase.ROLLED_BACK and world[1].traffic.weights == {1: 100}
    verdicts = [e for e in store.events(rollout_id) if e["kind"] == VERDICT]
    assert len(verdicts) == 1 and verdicts[0]["ts"] - record.created < 10  # a look inside the 10 s window
    judged = {m.name: m for m in Look.of(verdicts[0]).verdict.measurements}
    assert "p99_ms" not in judged  # ceilings wait for the window to close
    latency = judged["latency"]
    assert latency.outcome == Outcome.FAILED and latency.value > 5 and latency.threshold == FAST.max_p99_ratio
    assert latency.p_value <= latency.alpha and latency.low > FAST.max_p99_ratio
    assert "latency" in record.reason


def test_evidence_accumulates_over_the_windows_of_a_step(world):
    path, target, clock = world
    store = open_store(str(path))
    source = TrafficSource(target, {1: 4.0, 2: 4.0})
    ceiling = Thresholds(min_requests=20, max_p99_ms=3.0)  # every window over it: the step holds once
    spec = RolloutSpec(model="fraud", candidate=2, interval_s=10, thresholds=ceiling, failure_limit=1)
    rollout_id = store.create(new_rollout(spec, target.served("fraud"), clock()), "alice").id
    drive(Controller(store, lambda ref: target, source, clock=clock), source, clock, 25)
    samples = [
        {m.name: m.samples for m in look.verdict.measurements if m.kind == "judge"}
        for look in looks(store.events(rollout_id))
    ]
    assert [s["latency"] for s in samples] == pytest.approx([100, 200])  # 10% of 100/s, over 1 then 2 windows
    assert store.get(rollout_id).phase == Phase.ROLLED_BACK  # the second window over the ceiling


def test_weights_wait_while_the_target_is_busy_and_the_record_says_why(world):
    store, source, controller, rollout_id = start(world, {1: 4.0, 2: 4.0}, steps=[10, 50, 100])
    drive(controller, source, world[2], 5)  # inside the first window: 50% is decided while busy
    world[1].busy = "KubeRay reports UpgradeInProgress (pending cluster raynomaly-x)"
    drive(controller, source, world[2], 30)
    record = store.get(rollout_id)
    assert record.phase == Phase.PROGRESSING and not record.applied
    assert "UpgradeInProgress" in record.waiting
    assert world[1].traffic.weights == {1: 90, 2: 10}  # nothing moved while it was busy
    waits = [e for e in store.events(rollout_id) if e["kind"] == "waiting"]
    assert len(waits) == 1  # recorded once, not every tick
    world[1].busy = None
    drive(controller, source, world[2], 60)
    record = store.get(rollout_id)
    assert record.phase == Phase.SUCCEEDED and record.waiting is None


def test_an_upgrade_waits_for_kuberay_then_a_regression_on_the_new_cluster_reverts_the_image(tmp_path):
    from controller.targets.cluster import ClusterChange
    from controller.targets.spec import TargetRef

    old, new = ClusterChange(image="raynomaly:1.0"), ClusterChange(image="raynomaly:1.1")
    target, clock = ClusterDouble(ModelTraffic(weights={1: 100}), old), Clock()
    store, source = open_store(str(tmp_path / "rollouts.db")), None
    source = TrafficSource(target, {1: 4.0})
    kuberay = TargetRef(kind="kuberay", namespace="serving", rayservice="raynomaly")
    spec = RolloutSpec(model="fraud", candidate=1, upgrade=new, target=kuberay, interval_s=10,
                       thresholds=FAST, failure_limit=0)  # fmt: skip
    rollout_id = store.create(new_rollout(spec, target.served("fraud"), clock()), "alice").id
    controller = Controller(store, lambda ref: target, source, clock=clock)
    drive(controller, source, clock, 3)
    assert target.upgrades == ["raynomaly:1.1"] and store.get(rollout_id).applied  # after KubeRay finished
    assert [e["detail"]["waiting"] for e in store.events(rollout_id) if e["name"] == "waiting"][0].startswith(
        "weights wait: UpgradeInProgress"
    )
    source.latency_ms[1] = 900.0  # the new image is slow: over the 500 ms ceiling
    drive(controller, source, clock, 30)
    record = store.get(rollout_id)
    assert record.phase == Phase.FAILED and "p99" in record.reason
    assert target.upgrades == ["raynomaly:1.1", "raynomaly:1.0"] and target.cluster == old


def test_an_unreachable_source_pauses_instead_of_rolling_back(world):
    store, source, controller, rollout_id = start(world, {1: 4.0, 2: 40.0}, error_limit=1)
    source.down = True
    drive(controller, source, world[2], 60)
    record = store.get(rollout_id)
    assert record.phase == Phase.PAUSED and "metrics unavailable" in record.reason
    assert world[1].traffic.weights == {1: 90, 2: 10}


def test_a_pause_for_unreachable_metrics_lifts_itself_once_they_answer(world):
    store, source, controller, rollout_id = start(world, {1: 4.0, 2: 4.0}, error_limit=1, steps=[10, 100])
    source.down = True
    drive(controller, source, world[2], 60)
    assert store.get(rollout_id).phase == Phase.PAUSED and world[1].traffic.weights == {1: 90, 2: 10}
    source.down = False
    drive(controller, source, world[2], 120)
    record = store.get(rollout_id)
    assert record.phase == Phase.SUCCEEDED, record.reason
    names = [e["name"] for e in store.events(rollout_id) if e["kind"] == "decision"]
    assert names[names.index("pause") + 1] == "resume"  # nothing was promoted or rolled back while blind


@pytest.mark.parametrize("kill_at_apply", [1, 2, 3, 4])
def test_killed_between_decision_and_action_resumes_without_repeating_or_skipping(world, kill_at_apply):
    path, target, clock = world
    store, source, controller, rollout_id = start(world, {1: 4.0, 2: 4.0}, steps=[10, 50, 100])
    while len(target.applied) < kill_at_apply - 1:
        drive(controller, source, clock, 1)
    target.crash_on_apply = True
    with pytest.raises(Killed):
        drive(controller, source, clock, 30)
    target.crash_on_apply = False
    restarted = Controller(open_store(str(path)), lambda ref: target, source, clock=clock)  # a fresh process
    drive(restarted, source, clock, 60)
    assert store.get(rollout_id).phase == Phase.SUCCEEDED
    assert target.applied == [
        ({1: 90, 2: 10}, {}),
        ({1: 50, 2: 50}, {}),
        ({1: 0, 2: 100}, {}),
        ({2: 100}, {}),
    ]


def test_an_operator_command_is_carried_out_on_the_next_tick(world):
    store, source, controller, rollout_id = start(world, {1: 4.0, 2: 4.0})
    drive(controller, source, world[2], 3)
    record = store.get(rollout_id)
    store.save(record.model_copy(update={"command": "abort"}), "alice", "abort", [], {})
    drive(controller, source, world[2], 2)
    assert store.get(rollout_id).phase == Phase.ABORTED and world[1].traffic.weights == {1: 100}
    assert [e.action for e in store.audit()][-3:] == ["abort", "rollback", "applied"]


def test_blue_green_switches_back_when_the_promoted_version_regresses(world):
    path, target, clock = world
    store, source, controller, rollout_id = start(world, {1: 4.0, 2: 4.0}, blue_green={"warm_s": 300})
    drive(controller, source, clock, 15)
    assert target.traffic.weights == {2: 100} and target.traffic.shadows == {1: 100.0}
    source.latency_ms[2] = 60.0  # a regression that starts after the switch
    drive(controller, source, clock, 30)
    assert store.get(rollout_id).phase == Phase.ROLLED_BACK and target.traffic.weights == {1: 100}


def test_a_target_that_stays_down_is_logged_when_it_fails_then_once_a_minute_and_when_it_answers(
    world, caplog
):
    store, source, controller, rollout_id = start(world, {1: 4.0, 2: 4.0}, steps=[10, 50, 100])
    world[1].down = "cannot reach the Ray dashboard at http://127.0.0.1:8265"
    with caplog.at_level("INFO", logger="raynomaly.controller"):
        drive(controller, source, world[2], 150, tick_s=0.5)  # 300 ticks, each one retrying
        failed = [r for r in caplog.records if "the target failed" in r.getMessage()]
        assert len(failed) == 3  # at 0, 60 and 120 s
        assert not store.get(rollout_id).applied and not world[1].applied  # recorded, never applied
        world[1].down = None
        drive(controller, source, world[2], 2, tick_s=0.5)
    assert [r for r in caplog.records if "the target answers again" in r.getMessage()]
    assert store.get(rollout_id).phase == Phase.PROGRESSING and world[1].traffic.weights == {1: 90, 2: 10}
