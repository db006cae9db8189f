"""Whether a version may be promoted to an environment, and on what evidence (pure functions of the
rollout records, the approvals, the alerts seen and the time).

A version is *verified* in an environment while its latest rollout there Succeeded and nothing since
took that back: a later rollout of it that failed, rolled back or was aborted, a rollout that moved
that environment back to an older version, or an alert about it. The latest rollout decides, so a
failed re-verification revokes what an earlier success granted. An approval counts for the upstream
success it saw, and only for the environment it names.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field

from controller.environments.records import Approval
from controller.environments.spec import Environment
from controller.rollouts.spec import Rollout
from controller.rollouts.state import Phase
from controller.rollouts.strategies import strategy_for
from runtime.tokens import ROLES


@dataclass(frozen=True)
class Alert:
    """An alert that fired about a version (`name` as the alert rule calls it)."""

    name: str
    model: str
    version: int
    at: float


@dataclass(frozen=True)
class Verified:
    """A version's standing in one environment: the success it rests on, or why there is none."""

    rollout: Rollout | None
    reasons: tuple[str, ...] = ()

    @property
    def since(self) -> float:
        """When the success it rests on ended (the rollout's last save)."""
        return self.rollout.updated if self.rollout is not None else float("inf")


@dataclass(frozen=True)
class Eligibility:
    """May the promotion go ahead: every reason it may not, the upstream success it rests on and
    the approvals it counts."""

    reasons: tuple[str, ...]
    upstream: Rollout | None = None
    approvals: tuple[Approval, ...] = field(default_factory=tuple)

    @property
    def allowed(self) -> bool:
        return not self.reasons


def verified(
    environment: str, model: str, version: int, rollouts: Sequence[Rollout], alerts: Sequence[Alert] = ()
) -> Verified:
    """The success of `version` in `environment` that still stands, or why none does (pure)."""
    here = sorted((r for r in rollouts if r.environment == environment and r.spec.model == model),
                  key=lambda r: r.created)  # fmt: skip
    own = [r for r in here if r.spec.candidate == version]
    promote = f"'raynomaly promote {model} {version} --to {environment}'"
    if not own:
        return Verified(None, (f"v{version} of {model} has not been rolled out in {environment}: {promote}",))
    latest = own[-1]
    if latest.active:
        return Verified(None, (
            f"v{version} is being rolled out in {environment} now (rollout {latest.id}, "
            f"{latest.phase.value}): wait for it to succeed",
        ))  # fmt: skip
    if latest.phase != Phase.SUCCEEDED:
        return Verified(None, (
            f"v{version}'s latest rollout in {environment} ({latest.id}) ended {latest.phase.value}"
            f"{': ' + latest.reason if latest.reason else ''}; it is eligible again once it succeeds "
            f"there: {promote}",
        ))  # fmt: skip
    back = [r for r in here if r.created > latest.created and r.stable == version
            and r.spec.candidate < version and r.phase == Phase.SUCCEEDED
            and strategy_for(r.spec.strategy).moves_traffic]  # fmt: skip
    if back:
        return Verified(None, (
            f"{environment} was moved back from v{version} to v{back[-1].spec.candidate} "
            f"(rollout {back[-1].id}) after v{version} succeeded there: {promote} again to retry",
        ))  # fmt: skip
    fired = [a for a in alerts if a.model == model and a.version == version and a.at >= latest.updated]
    if fired:
        names = ", ".join(sorted({a.name for a in fired}))
        return Verified(None, (
            f"{names} fired about v{version} after it succeeded in {environment}: {promote} again once "
            "the cause is fixed",
        ))  # fmt: skip
    return Verified(latest)


def eligibility(
    environment: Environment,
    model: str,
    version: int,
    rollouts: Sequence[Rollout],
    approvals: Sequence[Approval],
    promoter: str,
    now: float,
    alerts: Sequence[Alert] = (),
) -> Eligibility:
    """Whether `promoter` may promote `version` of `model` to `environment` now (pure): verified
    upstream (where it has one) for the soak time, and approved where approval is required."""
    reasons: list[str] = []
    upstream = None
    if environment.upstream is not None:
        standing = verified(environment.upstream, model, version, rollouts, alerts)
        reasons += standing.reasons
        upstream = standing.rollout
        soaked = now - standing.since
        if upstream is not None and soaked < environment.soak:
            reasons.append(
                f"v{version} has soaked in {environment.upstream} for {soaked:.0f} s of the "
                f"{environment.soak:.0f} s {environment.name} requires; promote it in "
                f"{environment.soak - soaked:.0f} s"
            )
    counted: tuple[Approval, ...] = ()
    if environment.approval is not None and (environment.upstream is None or upstream is not None):
        counted, why = approved(environment, model, version, upstream, approvals, promoter)
        reasons += why
    elif environment.approval is not None:
        reasons.append(f"{environment.name} also needs an approval once v{version} is verified upstream")
    return Eligibility(tuple(reasons), upstream, counted)


def approved(
    environment: Environment,
    model: str,
    version: int,
    upstream: Rollout | None,
    approvals: Sequence[Approval],
    promoter: str,
) -> tuple[tuple[Approval, ...], tuple[str, ...]]:
    """The approvals that count for this promotion, and why none does where none does (pure)."""
    policy = environment.approval
    assert policy is not None
    evidence = upstream.id if upstream is not None else None
    mine = [a for a in approvals if (a.model, a.version, a.environment) == (model, version, environment.name)]
    strong = [a for a in mine if ROLES.get(a.role, -1) >= ROLES[policy.role]]
    current = [a for a in strong if a.upstream == evidence]
    others = [a for a in current if a.actor != promoter] if policy.four_eyes else current
    if others:
        return tuple(others), ()
    ask = (f"'raynomaly approve {model} {version} --for {environment.name} --reason ...' by someone "
           f"with the {policy.role} role")  # fmt: skip
    if current:
        return (), (
            f"{environment.name} requires four eyes: {promoter} approved v{version} and cannot also "
            f"promote it; another deployer promotes it, or another {policy.role} approves: {ask}",
        )
    if strong:
        return (), (
            f"the approval of v{version} for {environment.name} by {strong[-1].actor} was for an earlier "
            f"rollout in {environment.upstream} ({strong[-1].upstream}), not the success it rests on now "
            f"({evidence}): approve again: {ask}",
        )
    return (), (f"{environment.name} needs an approval of v{version}: {ask}",)
