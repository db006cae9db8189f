"""A batch scoring job: the frozen request parsed at the edge, its report, and the pure checks on both."""

from dataclasses import asdict, dataclass, field
from typing import Literal

from models.errors import InvalidSpec
from models.store import check_name

BAD_ROW_MODES = ("reject", "null")
ENGINES = ("auto", "process", "ray")
ADDED_COLUMNS = ("score", "label", "error")
"""Columns a job adds to the input's; an input that already has one is refused."""
MODEL_KEY, VERSION_KEY, CHECKSUM_KEY = "raynomaly.model", "raynomaly.version", "raynomaly.checksum"
"""Key-value metadata of every written Parquet file: which model version scored it."""


class BatchFailed(Exception):
    """The job ran but its output cannot be trusted (lost rows, missing metadata, a Ray failure);
    nothing was written to the output path."""


class RejectedRows(Exception):
    """Raised by a scorer actor in `reject` mode when a batch holds rows that cannot be scored;
    the driver then locates every such row in the input and reports them."""

    def __init__(self, count: int):
        super().__init__(f"{count} row(s) in a batch cannot be scored")
        self.count = count

    def __reduce__(self):
        return RejectedRows, (self.count,)


@dataclass(frozen=True)
class BatchRequest:
    """Score every row of `input` (a .parquet or .csv file, or a folder of them) with a model version
    and write the input columns plus `score` and `label` as Parquet files into the folder `output`.

    `on_bad_rows`: `reject` fails the job naming the rows that cannot be scored (nothing written);
    `null` scores them as null with an `error` column saying why. `address` is a Ray cluster to
    connect to; without it (and no Ray in this process) a private local Ray with `num_cpus` logical
    CPUs (default `concurrency + 1`: one left for reading and writing) runs the job.
    """

    model: str
    version: int | None
    input: str
    output: str
    store: str
    keys: str | None = None
    """The keys folder that verifies (and decrypts) the version, as an absolute path: every scorer
    reads it by path (`models.keys`). None: the folder the environment names where the job runs."""
    batch_size: int = 100_000
    concurrency: int = 1
    on_bad_rows: Literal["reject", "null"] = "reject"
    address: str | None = None
    num_cpus: int | None = None
    rows_per_file: int = 1_000_000
    """Rows gathered into each output file (the last one may hold fewer): fewer, larger files."""
    engine: Literal["auto", "process", "ray"] = "auto"
    """`process` scores in this process, `ray` on Ray Data; `auto` picks by `choose_engine`."""

    def __post_init__(self):
        check_name(self.model)
        if self.version is not None and self.version < 1:
            raise InvalidSpec(f"version must be 1 or more, got {self.version}")
        if self.batch_size < 1:
            raise InvalidSpec(f"batch size must be 1 or more rows, got {self.batch_size}")
        if self.rows_per_file < 1:
            raise InvalidSpec(f"rows per file must be 1 or more, got {self.rows_per_file}")
        if self.concurrency < 1:
            raise InvalidSpec(f"concurrency must be 1 or more scorer actors, got {self.concurrency}")
        if self.on_bad_rows not in BAD_ROW_MODES:
            modes = ", ".join(BAD_ROW_MODES)
            raise InvalidSpec(f"on_bad_rows must be one of {modes}, got {self.on_bad_rows!r}")
        if self.num_cpus is not None and self.num_cpus < required_cpus(self.concurrency):
            raise InvalidSpec(_capacity_advice(self.concurrency, self.num_cpus, "--num-cpus"))
        if self.engine not in ENGINES:
            raise InvalidSpec(f"engine must be one of {', '.join(ENGINES)}, got {self.engine!r}")
        if not self.input or not self.output:
            raise InvalidSpec("both an input and an output URI are needed")


@dataclass(frozen=True)
class BatchReport:
    """What a finished job did. `seconds` excludes starting Ray (`ray_start_seconds`)."""

    model: str
    version: int
    input: str
    output: str
    engine: str
    rows_in: int
    rows_out: int
    bad_rows: int
    seconds: float
    ray_start_seconds: float
    files: list[str]
    ray_stats: str = field(default="", repr=False)
    """Ray Data's per-operator summary of the job (`Dataset.stats()`)."""

    @property
    def rows_per_second(self) -> float:
        """Input rows per second of the job, Ray start excluded."""
        return self.rows_in / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict:
        """The report as JSON-ready data (without the Ray Data stats text)."""
        document = asdict(self)
        del document["ray_stats"]
        return {**document, "rows_per_second": self.rows_per_second}


def choose_engine(request: BatchRequest, on_cluster: bool) -> str:
    """Where a job scores (pure): as asked; on Ray Data when it has a cluster to spread over
    (`on_cluster`: `RAY_ADDRESS`, a RayJob's driver, Ray already running here); else in this process.
    On one machine a process scoring with a thread per core beat Ray Data's actors on the same cores
    at every size measured (1.7-1.9x one plain process against 0.24-0.68x, 1M-4M rows, 2 cores): an
    actor streams at ~0.7x a process and Ray Data pays 2.4-4.6 s a job before its first row, plus
    Ray's start (benchmarks/results/batch.json)."""
    if request.engine != "auto":
        return request.engine
    return "ray" if on_cluster else "process"


def required_cpus(concurrency: int) -> int:
    """Logical CPUs a job needs: one per scorer actor plus one for read and write tasks (pure).

    Ray Data actors holding every CPU leave none for reading and writing, and the job hangs silently.
    """
    return concurrency + 1


def check_capacity(concurrency: int, cluster_cpus: float) -> None:
    """InvalidSpec unless the cluster has a CPU for each actor and one to spare (pure)."""
    if cluster_cpus < required_cpus(concurrency):
        raise InvalidSpec(_capacity_advice(concurrency, cluster_cpus, "the cluster"))


def _capacity_advice(concurrency: int, cpus: float, where: str) -> str:
    return (
        f"concurrency {concurrency} needs {required_cpus(concurrency)} CPUs (one per scorer actor and one "
        f"for reading and writing) but {where} has {cpus:g}; lower --concurrency"
    )


def check_row_count(rows_in: int, rows_out: int, where: str) -> None:
    """BatchFailed unless every input row was written exactly once (pure)."""
    if rows_in != rows_out:
        raise BatchFailed(
            f"the job read {rows_in:,} rows but wrote {rows_out:,} to {where}; the output was discarded. "
            "This is a bug or a storage fault: rerun the job, and report it if it happens again"
        )
