"""Blue-green: the candidate waits at 0% fed by shadow traffic, passes pre-promotion analysis, takes
all traffic in one switch, and is analysed again while the old version stays warm (mirrored) for
`warm_s`, so a post-promotion failure switches back at once."""

from controller.rollouts.spec import Phase, Rollout, RolloutSpec
from controller.rollouts.strategies.spec import Decision, moved, only, succeed
from runtime.traffic import ModelTraffic


class BlueGreen:
    moves_traffic = True

    def start(self, rollout: Rollout) -> Decision:
        if rollout.stable is None:
            return self._switch(rollout, 0.0, "first version of the model: nothing to compare with")
        spec = rollout.spec
        traffic = ModelTraffic(
            weights={rollout.stable: 100},
            shadows={spec.candidate: spec.shadow_percent},
            stable=rollout.stable,
        )
        reason = f"v{spec.candidate} deployed at 0%, mirrored {spec.shadow_percent:g}% of live traffic"
        return moved(rollout, "deploy", reason, phase=Phase.PROGRESSING, step=0, traffic=traffic)

    def advance(self, rollout: Rollout, now: float) -> Decision:
        if rollout.phase == Phase.PROGRESSING:
            return self._switch(rollout, now, "pre-promotion analysis passed")
        if rollout.stable is not None and now - (rollout.promoted_at or now) < rollout.spec.warm_s:
            left = rollout.spec.warm_s - (now - rollout.promoted_at)
            return moved(
                rollout,
                "hold",
                f"post-promotion analysis passed; v{rollout.stable} stays warm {left:.0f} s more",
                phase=Phase.PROMOTING,
                step=rollout.step,
                traffic=rollout.traffic,
            )
        return succeed(
            rollout,
            f"v{rollout.spec.candidate} serves all traffic",
            only(rollout.spec.candidate),
        )

    def promote(self, rollout: Rollout, now: float) -> Decision:
        if rollout.phase == Phase.PROMOTING:
            return succeed(
                rollout,
                "promoted by an operator",
                only(rollout.spec.candidate),
            )
        return self._switch(rollout, now, "promoted by an operator")

    def judged_steps(self, spec: RolloutSpec) -> int:
        return 2  # before the switch, and while the old version stays warm

    def analysed(self, rollout: Rollout) -> bool:
        return rollout.phase == Phase.PROGRESSING or (
            rollout.phase == Phase.PROMOTING and rollout.stable is not None
        )

    def _switch(self, rollout: Rollout, now: float, reason: str) -> Decision:
        spec, stable = rollout.spec, rollout.stable
        if stable is None:
            traffic = only(spec.candidate)
        else:
            traffic = ModelTraffic(
                weights={spec.candidate: 100}, shadows={stable: spec.shadow_percent}, stable=spec.candidate
            )
        return moved(
            rollout,
            "switch",
            f"{reason}; all traffic on v{spec.candidate}",
            phase=Phase.PROMOTING,
            step=1,
            traffic=traffic,
            promoted_at=now,
        )
