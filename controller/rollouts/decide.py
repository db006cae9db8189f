"""`next_action`: the one decision table of every rollout (pure).

Operator commands come first. Then the window's verdict: Successful advances (the strategy says
where), Failed beyond `failure_limit` rolls back, Error beyond `error_limit` and Inconclusive beyond
`inconclusive_limit` pause and say why; anything else holds the step for another window. A pause
for unreachable metrics is lifted by the loop (`resume`) once the source answers again: missing
data never promotes nor rolls back.
"""

from controller.analysis.verdict import Outcome, Verdict
from controller.rollouts.spec import Phase, Rollout
from controller.rollouts.strategies import strategy_for
from controller.rollouts.strategies.spec import Decision, moved, only


class CommandRefused(ValueError):
    """A command that does not apply to the rollout's phase (the message says which do)."""


ALLOWED = {
    "promote": {Phase.PROGRESSING, Phase.PAUSED, Phase.PROMOTING},
    "pause": {Phase.PENDING, Phase.PROGRESSING, Phase.PROMOTING},
    "resume": {Phase.PAUSED},
    "abort": {Phase.PENDING, Phase.PROGRESSING, Phase.PAUSED, Phase.PROMOTING},
    "rollback": {Phase.PENDING, Phase.PROGRESSING, Phase.PAUSED, Phase.PROMOTING},
}


def check_command(rollout: Rollout, command: str) -> None:
    """CommandRefused unless `command` applies in the rollout's phase (pure)."""
    if command not in ALLOWED:
        raise CommandRefused(f"unknown command {command!r}; choose one of {', '.join(ALLOWED)}")
    if rollout.phase not in ALLOWED[command]:
        allowed = ", ".join(sorted(p.value for p in ALLOWED[command]))
        raise CommandRefused(
            f"cannot {command} a rollout that is {rollout.phase.value}; {command} applies to: {allowed}"
        )


def next_action(rollout: Rollout, verdict: Verdict | None, now: float) -> Decision | None:
    """The decision for this tick, or None to keep waiting (pure).

    `verdict` is the judged window when one just closed; None when no window closed (the step is
    not analysed, or only a command or the start is due).
    """
    strategy = strategy_for(rollout.spec.strategy)
    if rollout.command is not None:
        return _command(rollout, rollout.command, now)
    if rollout.phase == Phase.PENDING:
        return strategy.start(rollout)
    if rollout.phase not in (Phase.PROGRESSING, Phase.PROMOTING):
        return None
    if not strategy.analysed(rollout):
        return strategy.advance(rollout, now) if rollout.applied else None
    if verdict is None:
        return None
    counts = rollout.counts
    if verdict.outcome == Outcome.SUCCESSFUL:
        return strategy.advance(rollout, now)
    if verdict.outcome == Outcome.FAILED:
        counts = counts.model_copy(update={"failed": counts.failed + 1})
        if counts.failed > rollout.spec.failure_limit:
            return rollback(
                rollout.model_copy(update={"counts": counts}),
                f"{counts.failed} failed window(s), limit {rollout.spec.failure_limit}: {verdict.reason}",
            )
    elif verdict.outcome == Outcome.ERROR:
        counts = counts.model_copy(update={"error": counts.error + 1})
        if counts.error > rollout.spec.error_limit:
            reason = (
                f"metrics unavailable in {counts.error} windows: {verdict.reason}; resumes when they answer"
            )
            return _pause(rollout, reason, for_metrics=True)
    else:
        counts = counts.model_copy(update={"inconclusive": counts.inconclusive + 1})
        if counts.inconclusive > rollout.spec.inconclusive_limit:
            return _pause(
                rollout,
                f"{counts.inconclusive} inconclusive windows: {verdict.reason}; "
                "send more traffic or lower min_requests/min_rows, then resume",
            )
    update = {"counts": counts, "window_started": None, "window_base": None, "reason": verdict.reason}
    return Decision("hold", rollout.model_copy(update=update), f"{verdict.outcome.value}: {verdict.reason}")


def rollback(rollout: Rollout, reason: str, phase: Phase | None = None) -> Decision:
    """All traffic back on the stable version and the candidate removed (pure). A strategy that
    never moved traffic (shadow, rolling) ends Failed instead of RolledBack."""
    if phase is None:
        phase = Phase.ROLLED_BACK if strategy_for(rollout.spec.strategy).moves_traffic else Phase.FAILED
    traffic = only(rollout.stable) if rollout.stable is not None else None
    return moved(
        rollout,
        "rollback",
        reason,
        phase=phase,
        step=rollout.step,
        traffic=traffic,
        options=rollout.previous_options,
        cluster=rollout.previous_cluster if rollout.cluster is not None else None,
        counts=rollout.counts,
    )


def _pause(rollout: Rollout, reason: str, *, for_metrics: bool = False) -> Decision:
    return moved(
        rollout,
        "pause",
        reason,
        phase=Phase.PAUSED,
        step=rollout.step,
        traffic=rollout.traffic,
        paused_from=rollout.phase,
        paused_for_metrics=for_metrics,
    )


def resume(rollout: Rollout, reason: str) -> Decision:
    """Back to the phase it was paused in, same step, fresh window and counts (pure)."""
    return moved(
        rollout,
        "resume",
        reason,
        phase=rollout.paused_from or Phase.PROGRESSING,
        step=rollout.step,
        traffic=rollout.traffic,
        paused_from=None,
        paused_for_metrics=False,
    )


def _command(rollout: Rollout, command: str, now: float) -> Decision:
    strategy = strategy_for(rollout.spec.strategy)
    if command == "promote":
        if rollout.phase == Phase.PAUSED:
            rollout = rollout.model_copy(update={"phase": rollout.paused_from or Phase.PROGRESSING})
        return strategy.promote(rollout, now)
    if command == "pause":
        return _pause(rollout, "paused by an operator")
    if command == "resume":
        return resume(rollout, "resumed by an operator")
    if command == "abort":
        return rollback(rollout, "aborted by an operator", Phase.ABORTED)
    return rollback(rollout, "rolled back by an operator")
