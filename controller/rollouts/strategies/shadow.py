"""Shadow: mirror a share of live traffic to the candidate (each step's percent), compare, report.
Callers are never answered by the candidate; at the end the mirror is removed."""

from controller.rollouts.spec import Phase, Rollout, RolloutSpec
from controller.rollouts.strategies.spec import Decision, moved, only, succeed
from runtime.traffic import ModelTraffic


class Shadow:
    moves_traffic = False

    def start(self, rollout: Rollout) -> Decision:
        return self._mirror(rollout, 0)

    def advance(self, rollout: Rollout, now: float) -> Decision:
        if rollout.step + 1 < len(rollout.spec.steps):
            return self._mirror(rollout, rollout.step + 1)
        return self._done(rollout, "shadow analysis passed at every step")

    def promote(self, rollout: Rollout, now: float) -> Decision:
        return self._done(rollout, "ended early by an operator")

    def judged_steps(self, spec: RolloutSpec) -> int:
        return len(spec.steps)

    def analysed(self, rollout: Rollout) -> bool:
        return rollout.phase == Phase.PROGRESSING

    def _mirror(self, rollout: Rollout, step: int) -> Decision:
        percent = rollout.spec.steps[step]
        traffic = ModelTraffic(
            weights={rollout.stable: 100}, shadows={rollout.spec.candidate: percent}, stable=rollout.stable
        )
        reason = f"{percent}% of live traffic mirrored to v{rollout.spec.candidate}"
        return moved(rollout, "mirror", reason, phase=Phase.PROGRESSING, step=step, traffic=traffic)

    def _done(self, rollout: Rollout, reason: str) -> Decision:
        return succeed(
            rollout,
            f"{reason}; mirror removed",
            only(rollout.stable),
        )
