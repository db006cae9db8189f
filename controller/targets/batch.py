"""The batch capability of the targets: where a `raynomaly batch score` job's driver runs.

`local` runs it in this process, which scores the rows itself or on Ray Data; `kuberay` runs it as a
RayJob built from the manifests' template and follows it to its end. The same names as the rollout
targets, one registry of their own: a target need not do both.
"""

import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Protocol

from models.errors import InvalidSpec

if TYPE_CHECKING:
    from runtime.batch.spec import BatchReport, BatchRequest


class Finished(Protocol):
    """What a target reports once a job ended."""

    def to_dict(self) -> dict:
        """The outcome as one JSON document."""


class BatchTarget(Protocol):
    """Where a batch job runs."""

    def score(self, request: "BatchRequest", say: Callable[[str], None]) -> Finished:
        """Run the job to completion (telling progress through `say`, if it shows any) and report it."""


@dataclass(frozen=True)
class Placement:
    """Where to run, parsed at the edge: the KubeRay namespace and credentials (unused locally)."""

    namespace: str = "raynomaly"
    kubeconfig: str | None = None
    context: str | None = None
    image: str | None = None
    timeout_s: float = 3600.0


class LocalBatch:
    """The job's driver is this process."""

    def __init__(self, placement: Placement):
        pass

    def score(self, request: "BatchRequest", say: Callable[[str], None] | None) -> "BatchReport":
        """Run the job here (in this process or on Ray Data); a progress bar when `say` is given."""
        from runtime.batch.job import run_batch  # Ray Data loads only for a job

        return run_batch(request, progress=say is not None)


@dataclass(frozen=True)
class JobOutcome:
    """A RayJob that ended (its driver ran `batch score --target local` inside the cluster)."""

    rayjob: str
    namespace: str
    state: str
    output: str

    def to_dict(self) -> dict:
        return asdict(self)


class KubeRayBatch:
    """The job runs as a RayJob built from the base's template, followed until it ends."""

    def __init__(self, placement: Placement):
        self._placement = placement

    def score(self, request: "BatchRequest", say: Callable[[str], None] | None) -> JobOutcome:
        from controller.kuberay import jobs, manifests
        from controller.kuberay.api import KubeApi

        where = self._placement
        ref = request.model if request.version is None else f"{request.model}:{request.version}"
        flags = ["--batch-size", str(request.batch_size), "--concurrency", str(request.concurrency),
                 "--on-bad-rows", request.on_bad_rows,
                 "--rows-per-file", str(request.rows_per_file), "--engine", request.engine]  # fmt: skip
        name = f"raynomaly-batch-{uuid.uuid4().hex[:8]}"
        template = manifests.batch_template(where.image, where.namespace)
        job = manifests.batch_job(template, name, ref, request.input, request.output, request.store, flags)
        api = KubeApi.connect(where.kubeconfig, where.context)
        final = jobs.run(api, job, say or (lambda text: None), where.timeout_s)
        return JobOutcome(name, where.namespace, jobs.state(final)[0], request.output)


BATCH_TARGETS: dict[str, Callable[[Placement], BatchTarget]] = {"local": LocalBatch, "kuberay": KubeRayBatch}


def batch_target(name: str, placement: Placement | None = None) -> BatchTarget:
    """The batch target registered under `name`; InvalidSpec listing the choices otherwise."""
    try:
        return BATCH_TARGETS[name](placement or Placement())
    except KeyError:
        raise InvalidSpec(f"unknown target {name!r}; choose one of {', '.join(BATCH_TARGETS)}") from None
