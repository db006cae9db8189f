"""Rolling: new Scorer options (replicas, batching, CPUs, GPUs) for the running version, applied in
place; Serve replaces its replicas one by one. The updated version is judged against its reference
distribution and the absolute ceilings; a rollback restores the previous options."""

from controller.rollouts.spec import Phase, Rollout, RolloutSpec
from controller.rollouts.strategies.spec import Decision, moved, succeed


class Rolling:
    moves_traffic = False

    def start(self, rollout: Rollout) -> Decision:
        reason = f"v{rollout.spec.candidate} updated in place with new options"
        return moved(
            rollout,
            "update",
            reason,
            phase=Phase.PROGRESSING,
            step=0,
            traffic=rollout.traffic,
            options=rollout.spec.options,
        )

    def advance(self, rollout: Rollout, now: float) -> Decision:
        return succeed(rollout, "analysis after the update passed", rollout.traffic)

    def promote(self, rollout: Rollout, now: float) -> Decision:
        return succeed(rollout, "promoted by an operator", rollout.traffic)

    def judged_steps(self, spec: RolloutSpec) -> int:
        return 1

    def analysed(self, rollout: Rollout) -> bool:
        return rollout.phase == Phase.PROGRESSING
