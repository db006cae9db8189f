"""Promotion and approval: each request is checked against the rollout records, the approvals and
the alerts (`eligibility`, pure), then recorded: a promotion as the rollout it starts, an approval as
itself, a refusal as an audit entry naming every reason. One audit chain holds all three."""

from collections.abc import Callable
from dataclasses import dataclass

from controller.analysis.verdict import VERDICT
from controller.environments.eligibility import Alert, Eligibility, eligibility, verified
from controller.environments.records import Approval, Promotion, Upstream
from controller.environments.spec import Environment, Environments
from controller.rollouts.create import new_rollout
from controller.rollouts.spec import Rollout
from controller.sources.alerts import AlertSource
from controller.store.spec import RolloutStore
from controller.targets.spec import Target, TargetRef
from models.drift import bin_counts
from models.store import ModelStore
from runtime.tokens import Forbidden, Principal, require


class PromotionRefused(Exception):
    """The version may not be promoted (or approved) now; the message names every reason."""

    def __init__(self, reasons: tuple[str, ...] | list[str]):
        self.reasons = tuple(reasons)
        super().__init__("; ".join(self.reasons))


@dataclass
class Promotions:
    """Promotion and approval over the controller's records (the control API's handlers call these)."""

    store: RolloutStore
    environments: Environments
    models: ModelStore
    targets: Callable[[TargetRef], Target]
    alerts: AlertSource
    clock: Callable[[], float]

    def standing(self, model: str, version: int, to: str, promoter: str) -> Eligibility:
        """Whether `promoter` may promote the version to `to` now, and on what evidence."""
        self.models.manifest(model, version)  # an unknown or tampered version is refused as such
        return self._standing(self.environments.get(to), model, version, promoter)

    def _standing(self, environment: Environment, model: str, version: int, promoter: str) -> Eligibility:
        rollouts, now = self.store.list(model), self.clock()
        fired = self._fired(environment.upstream, model, version, rollouts, now)
        approvals = self.store.approvals(model, version)
        return eligibility(environment, model, version, rollouts, approvals, promoter, now, fired)

    def _fired(self, upstream: str | None, model: str, version: int, rollouts: list[Rollout],
               now: float) -> list[Alert]:  # fmt: skip
        """The alerts about the version since the upstream success it stands on (none without one)."""
        standing = verified(upstream, model, version, rollouts) if upstream is not None else None
        if standing is None or standing.rollout is None:
            return []
        return self.alerts.fired(model, version, standing.since, now)

    def promote(self, model: str, version: int, to: str, reason: str, ticket: str | None,
                who: Principal) -> Rollout:  # fmt: skip
        """Start `to`'s rollout of the version; PromotionRefused naming every reason it may not."""
        environment = self.environments.get(to)
        manifest = self.models.manifest(model, version)  # an unknown or tampered version is refused as such
        standing = self._standing(environment, model, version, who.subject)
        if not standing.allowed:
            self._refused(who, "promote-refused", model, version, to, reason, ticket, standing.reasons)
        spec = environment.spec(model, version)
        promotion = Promotion(
            environment=to, reason=reason, ticket=ticket, upstream=self._upstream(standing, environment),
            approvals=[f"{a.id} by {a.actor}" for a in standing.approvals],
            alerts_checked=self.alerts.checked,
        )  # fmt: skip
        served = self.targets(spec.target).served(model)
        bins = bin_counts(manifest.feature_names, manifest.feature_bins)
        return self.store.create(new_rollout(spec, served, self.clock(), bins, promotion), who.subject)

    def approve(self, model: str, version: int, environment_name: str, reason: str, ticket: str | None,
                who: Principal) -> Approval:  # fmt: skip
        """Record `who`'s approval of the version for the environment, bound to the upstream success
        it rests on; Forbidden below the environment's approver role, PromotionRefused otherwise."""
        environment = self.environments.get(environment_name)
        if environment.approval is None:
            raise PromotionRefused([f"{environment_name} needs no approval: promote the version directly"])
        try:
            require(who, environment.approval.role)
        except Forbidden:
            detail = {"model": model, "version": version, "environment": environment_name,
                      "needs": environment.approval.role}  # fmt: skip
            self.store.record_action(who.subject, "denied", None, detail)
            raise
        self.models.manifest(model, version)
        upstream = None
        if environment.upstream is not None:
            rollouts, now = self.store.list(model), self.clock()
            fired = self._fired(environment.upstream, model, version, rollouts, now)
            standing = verified(environment.upstream, model, version, rollouts, fired)
            if standing.rollout is None:
                self._refused(who, "approve-refused", model, version, environment_name, reason, ticket,
                              ("nothing to approve yet", *standing.reasons))  # fmt: skip
            upstream = standing.rollout.id
        approval = Approval(model=model, version=version, environment=environment_name, actor=who.subject,
                            role=who.role, reason=reason, ticket=ticket, upstream=upstream,
                            created=self.clock())  # fmt: skip
        return self.store.approve(approval)

    def _upstream(self, standing: Eligibility, environment: Environment) -> Upstream | None:
        rollout = standing.upstream
        if rollout is None:
            return None
        outcomes: dict[str, int] = {}
        for event in self.store.events(rollout.id):
            if event["kind"] == VERDICT:
                outcome = event["detail"]["outcome"]
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
        return Upstream(rollout=rollout.id, environment=environment.upstream, phase=rollout.phase.value,
                        strategy=rollout.spec.strategy, finished=rollout.updated,
                        verdicts=outcomes)  # fmt: skip

    def _refused(self, who: Principal, action: str, model: str, version: int, environment: str,
                 reason: str, ticket: str | None, reasons: tuple[str, ...]) -> None:  # fmt: skip
        """Audit a refusal with every reason, then raise it."""
        detail = {"model": model, "version": version, "environment": environment, "reason": reason,
                  "ticket": ticket, "reasons": list(reasons)}  # fmt: skip
        self.store.record_action(who.subject, action, None, detail)
        raise PromotionRefused(reasons)
