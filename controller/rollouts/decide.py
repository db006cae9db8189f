"""`next_action`: the one decision table of every rollout (pure).

Operator commands come first. Then the look's verdict: a Failed judge rolls back at once (its
false-alarm chance is already bounded by alpha); Error beyond `error_limit` pauses until the metrics
answer; a ceiling Failed in more than `failure_limit` windows rolls back; Successful (every judge
found no regression, and no ceiling failed) advances, the strategy says where, and says which judges
had too little evidence to see a regression of twice their floor (with `wait_for_evidence`, such a
step holds as Inconclusive instead); Inconclusive (no candidate traffic, or inputs that drifted
from the candidate's training data: the data changed, not the candidate, so it never rolls back)
beyond `inconclusive_limit` windows pauses; anything else holds the step for another window,
keeping its evidence. A pause for unreachable metrics is lifted by the loop (`resume`) once the
source answers again: missing data never promotes nor rolls back.
"""

from dataclasses import replace

from controller.analysis.judges import waiting_for
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
    unseen = waiting_for(verdict.measurements, rollout.evidence_s)
    if failed := verdict.failed("judge"):
        return rollback(rollout, "; ".join(m.message for m in failed))
    if verdict.outcome == Outcome.ERROR:
        counts = counts.model_copy(update={"error": counts.error + 1})
        if counts.error > rollout.spec.error_limit:
            reason = (
                f"metrics unavailable in {counts.error} windows: {verdict.reason}; resumes when they answer"
            )
            return _pause(rollout, reason, for_metrics=True)
    elif failed := verdict.failed("ceiling"):
        counts = counts.model_copy(update={"failed": counts.failed + 1})
        if counts.failed > rollout.spec.failure_limit:
            reasons = "; ".join(m.message for m in failed)
            return rollback(
                rollout.model_copy(update={"counts": counts}),
                f"{counts.failed} window(s) over a ceiling, limit {rollout.spec.failure_limit}: {reasons}",
            )
    elif verdict.outcome == Outcome.SUCCESSFUL and not (unseen and rollout.spec.wait_for_evidence):
        return _noting(strategy.advance(rollout, now), unseen)
    else:
        counts = counts.model_copy(update={"inconclusive": counts.inconclusive + 1})
        if counts.inconclusive > rollout.spec.inconclusive_limit:
            why = (
                verdict.reason if verdict.outcome != Outcome.SUCCESSFUL else f"waiting for evidence: {unseen}"
            )
            advice = (
                f"check the inputs sent to {rollout.spec.model} ('raynomaly monitor {rollout.spec.model}')"
                if verdict.drifted()
                else "send more traffic"
            )
            return _pause(
                rollout,
                f"{counts.inconclusive} inconclusive windows: {why}; "
                f"{advice}, then resume (the step's evidence is kept), or promote",
            )
    update = {"counts": counts, "window_started": None, "window_base": None, "reason": verdict.reason}
    return Decision("hold", rollout.model_copy(update=update), f"{verdict.outcome.value}: {verdict.reason}")


def _noting(decision: Decision, unseen: str) -> Decision:
    """An advance that left some judge short of the evidence to see a regression of twice its floor
    says so in its reason (and so in the audit log, status and watch)."""
    if not unseen:
        return decision
    reason = f"{decision.reason}; too little evidence yet to see a regression of twice the floor: {unseen}"
    return replace(decision, reason=reason, rollout=decision.rollout.model_copy(update={"reason": reason}))


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
        **_kept(rollout),
    )


def resume(rollout: Rollout, reason: str) -> Decision:
    """Back to the phase it was paused in, same step and evidence, fresh window and counts (pure)."""
    return moved(
        rollout,
        "resume",
        reason,
        phase=rollout.paused_from or Phase.PROGRESSING,
        step=rollout.step,
        traffic=rollout.traffic,
        paused_from=None,
        paused_for_metrics=False,
        **_kept(rollout),
    )


def _kept(rollout: Rollout) -> dict:
    """A pause does not end the step: its evidence and p-values carry over to the resumed step."""
    return {"evidence": rollout.evidence, "evidence_s": rollout.evidence_s, "p_values": rollout.p_values}


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
