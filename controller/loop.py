"""The controller loop: observe -> `assess` -> `next_action` -> record -> act, for every active
rollout. The only module that talks to the target, the metric source and the load generator.

The judges look at the step's evidence every LOOK_S and when a window closes; a closed window's
counts join the step's evidence (kept in the record).

Decisions are written ahead: a decision is recorded (with `applied=False`) before the target is
touched, and marked applied after. A controller killed between the two re-applies the same
declarative table on restart: no step is repeated or skipped, and traffic does not flap.
"""

import logging
import threading
import time
from collections.abc import Callable

from controller.analysis.assess import assess, unreachable
from controller.analysis.judges import Arms
from controller.analysis.verdict import Look, Measurement, Outcome, Verdict
from controller.analysis.window import VersionWindow, accumulate, describe, increase, summarise
from controller.rollouts.decide import next_action, resume, rollback
from controller.rollouts.spec import Phase, Rollout
from controller.rollouts.strategies import strategy_for
from controller.rollouts.strategies.spec import Decision
from controller.sources.spec import MetricSource, SourceUnavailable
from controller.store.spec import RolloutStore
from controller.targets.spec import Target, TargetError, TargetRef, Waiting, upgrades_clusters
from runtime.conflict import Conflict
from runtime.serving import DeployFailed

logger = logging.getLogger("raynomaly.controller")
ACTOR = "controller"
NO_GATE = Measurement(
    "loadtest",
    Outcome.ERROR,
    message="this controller has no gateway URL to load-test; start it with --gateway-url",
)
LOOK_S = 5.0
"""How often the judges look at a step's evidence inside a window: they are valid at every look, so
a regression is rolled back as soon as it shows rather than when the window closes."""
PROBE_EVERY_S = 5.0
"""How often a rollout paused for unreachable metrics asks the source again."""
REPEAT_WARNING_S = 60.0
"""How often a target's lasting failure is logged again (it is retried every tick)."""


class Controller:
    """Drives every active rollout one tick at a time."""

    def __init__(
        self,
        store: RolloutStore,
        targets: Callable[[TargetRef], Target],
        source: MetricSource,
        gate: Callable | None = None,
        clock: Callable[[], float] = time.time,
        sources: Callable[[TargetRef], MetricSource] | None = None,
    ):
        self.store, self.targets, self.source = store, targets, source
        self._sources = sources
        """The source of each target where targets differ (another local runtime), else `source`."""
        self._gate, self._clock = gate, clock
        self._probed: dict[str, float] = {}  # model -> when the source was last probed (a throttle)
        self._failing: dict[str, tuple[str, float]] = {}  # rollout -> the target's failure last logged, when
        # Between the windows' closing looks (which persist both in the record), per rollout: when it
        # was last looked at, and the judges' lowest p-values so far (for display only).
        self._looked: dict[str, float] = {}
        self._p_values: dict[tuple[str, int], dict[str, float]] = {}

    def run(self, stop: threading.Event, period_s: float = 0.5) -> None:
        """Tick until `stop` is set."""
        while not stop.is_set():
            try:
                self.tick()
            except Exception:  # e.g. the store is locked or its disk full: the loop must outlive it
                logger.exception("tick failed; retrying in %.1f s", period_s)
            stop.wait(period_s)

    def tick(self) -> None:
        """One pass over every active rollout; a failure in one never stops the others."""
        for rollout in self.store.list(active=True):
            try:
                self.step(rollout)
            except Conflict:
                pass  # an operator's command (or a served-state writer) came first; the next tick reads it
            except Waiting as e:  # the decision is recorded, not applied: applied once the target can
                self._wait(self.store.get(rollout.id), str(e))
            except (TargetError, DeployFailed) as e:
                self._target_failed(rollout.id, str(e))
                continue
            except Exception:
                logger.exception("rollout %s: tick failed; retrying next tick", rollout.id)
            if self._failing.pop(rollout.id, None) is not None:
                logger.info("rollout %s: the target answers again", rollout.id)

    def _target_failed(self, rollout_id: str, why: str) -> None:
        """Log a target failure when it starts or changes, then every `REPEAT_WARNING_S` while it
        lasts (each tick retries it: twice a second while a runtime is down)."""
        now = self._clock()
        last = self._failing.get(rollout_id)
        if last is None or last[0] != why or now - last[1] >= REPEAT_WARNING_S:
            logger.warning("rollout %s: the target failed, retrying every tick: %s", rollout_id, why)
            self._failing[rollout_id] = (why, now)

    def step(self, rollout: Rollout) -> None:
        """Carry one rollout forward as far as it can go now."""
        if not rollout.applied:
            rollout = self._act(rollout)
            if not rollout.active:
                return
        now = self._clock()
        strategy = strategy_for(rollout.spec.strategy)
        if rollout.command is None and rollout.phase == Phase.PAUSED and rollout.paused_for_metrics:
            if self._source_answers(rollout, now):
                self._decide(resume(rollout, "the metric source answers again"))
            return
        if rollout.command is None and rollout.phase in (Phase.PROGRESSING, Phase.PROMOTING):
            analysed = strategy.analysed(rollout)
            if analysed and rollout.window_started is not None:
                if now - rollout.window_started >= rollout.spec.interval_s:
                    look, rollout = self._look(rollout, closing=True)
                    self._decide(next_action(rollout, look.verdict, now), look)
                elif now - max(self._looked.get(rollout.id, 0.0), rollout.window_started) >= LOOK_S:
                    self._looked[rollout.id] = now
                    look, _ = self._look(rollout, closing=False)
                    # a judge may stop the step at any look; nothing else does
                    if look.verdict.failed("judge"):
                        self._decide(next_action(rollout, look.verdict, now), look)
                return
            try:
                waiting = self.targets(rollout.spec.target).readiness(rollout.spec.model)
            except DeployFailed as e:
                self._decide(rollback(rollout, f"deploy failed: {e}", Phase.FAILED))
                return
            rollout = self._wait(rollout, waiting)
            if waiting is not None:
                return  # the step's table is not serving yet: its window opens once it is
            if analysed:
                self._open_window(rollout, now)
                return
        self._decide(next_action(rollout, None, now))

    def _wait(self, rollout: Rollout, waiting: str | None) -> Rollout:
        """Record what the step waits for on the target (once per change), so status says why."""
        if rollout.waiting == waiting:
            return rollout
        detail = {"step": rollout.step, "waiting": waiting}
        event = {
            "ts": self._clock(),
            "kind": "waiting",
            "name": "waiting" if waiting else "ready",
            "detail": detail,
        }
        if waiting is not None:
            logger.info("rollout %s: waiting for %s", rollout.id, waiting)
        return self.store.save(
            rollout.model_copy(update={"waiting": waiting}), ACTOR, "waiting", [event], detail
        )

    def _source_answers(self, rollout: Rollout, now: float) -> bool:
        """Whether the metric source answers (asked at most every PROBE_EVERY_S per model: a probe is
        a whole scrape)."""
        model = rollout.spec.model
        if now - self._probed.get(model, float("-inf")) < PROBE_EVERY_S:
            return False
        self._probed[model] = now
        try:
            self._source(rollout.spec.target).snapshot(model)
        except SourceUnavailable:
            return False
        return True

    def _source(self, target: TargetRef) -> MetricSource:
        return self._sources(target) if self._sources is not None else self.source

    def _open_window(self, rollout: Rollout, now: float) -> None:
        try:
            base = self._source(rollout.spec.target).snapshot(rollout.spec.model)
        except SourceUnavailable as e:
            logger.warning("rollout %s: window opened without a baseline: %s", rollout.id, e)
            base = None
        self.store.save(
            rollout.model_copy(update={"window_started": now, "window_base": base}),
            ACTOR,
            "open-window",
            [],
            {"step": rollout.step},
        )

    def _look(self, rollout: Rollout, closing: bool) -> tuple[Look, Rollout]:
        """Judge the step's evidence with the current window's counts added. Closing the window
        also applies the ceilings and the load-test gate, and the record returned keeps the window
        in the step's evidence, with the judges' p-values; a look inside the window keeps nothing
        (the closing look counts the whole window again)."""
        spec = rollout.spec
        try:
            if rollout.window_base is None:
                raise SourceUnavailable("the window opened while the metric source was unreachable")
            window = increase(rollout.window_base, self._source(spec.target).snapshot(spec.model))
        except SourceUnavailable as e:
            return Look(unreachable(str(e)), rollout.step), rollout
        evidence = accumulate(rollout.evidence, window)
        windows, gathered = summarise(window), summarise(evidence)
        baseline = rollout.stable if rollout.stable not in (None, spec.candidate) else None

        def arms(versions: dict[int, VersionWindow]) -> Arms:
            other = versions.get(baseline, VersionWindow()) if baseline is not None else None
            return Arms(versions.get(spec.candidate, VersionWindow()), other)

        step = (rollout.id, rollout.step)
        looked = self._p_values.get(step, {})
        previous = {
            k: min(looked.get(k, 1.0), rollout.p_values.get(k, 1.0)) for k in {*looked, *rollout.p_values}
        }
        strategy = strategy_for(spec.strategy)
        verdict = assess(
            spec.thresholds,
            spec.alpha,
            strategy.judged_steps(spec),
            arms(windows),
            arms(gathered),
            strategy.pairs,
            previous,
            closing,
            rollout.feature_bins,
        )
        p_values = {m.name: m.p_value for m in verdict.measurements if m.p_value is not None}
        self._p_values[step] = {k: min(v, previous.get(k, 1.0)) for k, v in p_values.items()}
        seconds = rollout.evidence_s + max(self._clock() - (rollout.window_started or self._clock()), 0.0)
        figures = describe(windows)
        if not closing:
            return Look(verdict, rollout.step, seconds, figures), rollout
        if spec.loadtest is not None:
            gated = self._gate(spec.loadtest, spec.model, spec.candidate) if self._gate else [NO_GATE]
            verdict = Verdict.of([*verdict.measurements, *gated])
        update = {"evidence": evidence, "evidence_s": seconds, "p_values": self._p_values.pop(step)}
        return Look(verdict, rollout.step, seconds, figures), rollout.model_copy(update=update)

    def _decide(self, decision: Decision | None, look: Look | None = None) -> None:
        """Record the decision (and the look that led to it), then act on it."""
        if decision is None:
            return
        now, new = self._clock(), decision.rollout
        events = []
        if look is not None:
            events.append(look.event(now))
        detail = {
            "phase": new.phase.value,
            "step": new.step,
            "reason": decision.reason,
            "traffic": new.traffic.model_dump(mode="json") if new.traffic else None,
        }
        events.append({"ts": now, "kind": "decision", "name": decision.name, "detail": detail})
        saved = self.store.save(new, ACTOR, decision.name, events, detail)
        if not saved.active:
            self._looked.pop(saved.id, None)
            self._p_values = {k: v for k, v in self._p_values.items() if k[0] != saved.id}
        logger.info("rollout %s: %s (%s): %s", saved.id, decision.name, saved.phase.value, decision.reason)
        if not saved.applied:
            self._act(saved)

    def _act(self, rollout: Rollout) -> Rollout:
        """Make the target serve the record's table, then mark it applied."""
        options = {}
        if rollout.options is not None:
            options[rollout.spec.candidate] = rollout.options
        target = self.targets(rollout.spec.target)
        try:
            if rollout.cluster is not None:
                if not upgrades_clusters(target):
                    raise DeployFailed(f"the {rollout.spec.target} target has no cluster to upgrade")
                target.upgrade(rollout.cluster)
            target.apply(rollout.spec.model, rollout.traffic, options)
        except DeployFailed as e:
            if rollout.active:
                self._decide(rollback(rollout, f"deploy failed: {e}", Phase.FAILED))
                return self.store.get(rollout.id)
            raise
        return self.store.save(
            rollout.model_copy(update={"applied": True}),
            ACTOR,
            "applied",
            [],
            {"phase": rollout.phase.value, "step": rollout.step},
        )
