"""The KubeRay target: a RayService whose `spec.serveConfigV2` the controller patches.

Never the cluster's Serve REST API: KubeRay reapplies `serveConfigV2` and would undo it. Every
change is a JSON patch guarded by `metadata.resourceVersion` (409 -> read again, recompute, retry),
staged like the local target (`serving.stages`), and waits while KubeRay upgrades the cluster.
"""

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from controller.kuberay import status
from controller.kuberay.cluster import cluster_of, upgrade_operations
from controller.kuberay.errors import KubeError
from controller.settings import ControllerSettings
from controller.targets.cluster import ClusterChange
from controller.targets.spec import Served, TargetError, TargetRef, Waiting
from runtime import serving
from runtime.conflict import Conflict
from runtime.desired import DesiredState, ScorerOptions
from runtime.serving import DeployFailed
from runtime.traffic import ModelTraffic

if TYPE_CHECKING:
    from controller.kuberay.api import KubeApi

KIND = "RayService"
SETTLE_TIMEOUT_S = 300.0
PATCH_ATTEMPTS = 8


class KubeRayTarget:
    name = "kuberay"

    def __init__(
        self,
        api: "KubeApi",
        namespace: str,
        rayservice: str,
        sleep: Callable[[float], None] = time.sleep,
        settle_timeout_s: float = SETTLE_TIMEOUT_S,
    ):
        self._api, self._namespace, self._name = api, namespace, rayservice
        self._sleep, self._settle_timeout_s = sleep, settle_timeout_s

    def __repr__(self) -> str:
        return f"KubeRayTarget({self._namespace}/{self._name})"

    def _read(self) -> tuple[dict, DesiredState]:
        try:
            rayservice = self._api.get(KIND, self._namespace, self._name)
            return rayservice, status.desired_of(rayservice)
        except (KubeError, status.NotManaged) as e:
            raise TargetError(str(e)) from e

    def served(self, model: str) -> Served:
        rayservice, desired = self._read()
        options = {v.version: v.options for v in desired.versions if v.model == model}
        return Served(desired.traffic.models.get(model), options, cluster_of(rayservice))

    def upgrade(self, change: ClusterChange) -> None:
        """Ask KubeRay for `change` through `spec.upgradeStrategy` (nothing if the spec has it)."""

        def operations(rayservice: dict, desired: DesiredState) -> list[dict] | None:
            return None if cluster_of(rayservice) == change else upgrade_operations(rayservice, change)

        self._guarded(operations)

    def apply(self, model: str, traffic: ModelTraffic | None, options: dict[int, ScorerOptions]) -> None:
        """Through `serving.stages`, waiting for each intermediate table to serve; Waiting while
        KubeRay upgrades the cluster (nothing is patched then)."""
        rayservice, desired = self._read()
        busy = status.upgrade(rayservice)
        if busy is not None:
            raise Waiting(f"weights wait: {busy}")
        *intermediate, final = serving.stages(desired.traffic.models.get(model), traffic)
        for table in intermediate:
            self._settle(self._patch(model, table, options))
        written = self._patch(model, final, options)
        if written.draining:  # versions moving inline: once the gateway scores them, their apps go
            self._settle(written)
            self._patch(model, final, options)

    def _patch(
        self, model: str, traffic: ModelTraffic | None, options: dict[int, ScorerOptions]
    ) -> DesiredState:
        """The model's new table in one guarded patch (through `serving.draining` when versions move
        inline); returns the desired state written."""
        written: list[DesiredState] = []

        def operations(rayservice: dict, current: DesiredState) -> list[dict]:
            target = serving.with_traffic(current, model, traffic, options)
            written.append(serving.draining(current, target) or target)
            return status.operations(rayservice, written[-1])

        self._guarded(operations)
        return written[-1]

    def _guarded(self, operations: Callable[[dict, DesiredState], list[dict] | None]) -> None:
        """Patch with `operations(rayservice, desired)` (None: nothing to do); on 409 the
        RayService is read again and the patch recomputed on the newer object."""
        for attempt in range(PATCH_ATTEMPTS):
            try:
                patch = operations(*self._read())
                if patch is None:
                    return
                self._api.patch(KIND, self._namespace, self._name, patch)
                return
            except Conflict:
                self._sleep(min(0.05 * 2**attempt, 2.0))
            except KubeError as e:
                raise TargetError(str(e)) from e
            except ValueError as e:  # Ray's schema refused the rendered config
                raise DeployFailed(str(e)) from e
        raise TargetError(
            f"RayService {self._namespace}/{self._name} kept changing under {PATCH_ATTEMPTS} patches (409); "
            "is another writer fighting the controller?"
        )

    def _settle(self, desired: DesiredState) -> None:
        deadline, waiting = time.monotonic() + self._settle_timeout_s, "no status yet"
        while time.monotonic() < deadline:
            rayservice = self._read()[0]
            waiting = status.readiness(rayservice, desired)
            if waiting is None:
                return
            if status.upgrade(rayservice) is not None:
                raise Waiting(f"weights wait: {waiting}")
            self._sleep(0.5)
        raise TargetError(f"the RayService did not settle in {self._settle_timeout_s:.0f} s: {waiting}")

    def readiness(self, model: str) -> str | None:
        return status.readiness(*self._read())


def build(ref: TargetRef, settings: ControllerSettings) -> KubeRayTarget:
    """The target of `ref`, with credentials from the controller's settings (in-cluster or kubeconfig)."""
    from controller.kuberay.api import KubeApi  # the client loads only where KubeRay is used

    try:
        api = KubeApi.connect(settings.kubeconfig, settings.kube_context)
    except KubeError as e:
        raise TargetError(str(e)) from e
    return KubeRayTarget(api, ref.namespace, ref.rayservice)
