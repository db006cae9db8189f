"""Shared fixtures: data sets (synthetic and scikit-learn's bundled ones) and temporary stores."""

import functools
import json
import os
from pathlib import Path

import numpy as np
import pytest
from sklearn import datasets


def _synthetic(rows: int, features: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, features)) @ rng.normal(size=(features, features))
    X[rng.random(rows) < 0.05] += rng.normal(scale=6.0, size=features)
    return X


def _ties(rows: int, features: int, seed: int) -> np.ndarray:
    """Coarsely rounded values: many exact ties and duplicated rows, as in real sensor data."""
    return np.round(_synthetic(rows, features, seed), 1)


DATASETS = {
    "synthetic-6": lambda: _synthetic(1200, 6, 0),
    "synthetic-20": lambda: _synthetic(1200, 20, 1),
    "ties-5": lambda: _ties(1200, 5, 2),
    "breast-cancer": lambda: datasets.load_breast_cancer().data,
    "wine": lambda: datasets.load_wine().data,
    "digits": lambda: datasets.load_digits().data,
}


@pytest.fixture(scope="session", autouse=True)
def keys_folder(tmp_path_factory) -> Path:
    """One keys folder for the whole run (`RAYNOMALY_KEYS_DIR`, inherited by the commands tests
    start), so that publishing never creates a key in the checkout's `.raynomaly`."""
    folder = tmp_path_factory.mktemp("keys")
    previous = os.environ.get("RAYNOMALY_KEYS_DIR")
    os.environ["RAYNOMALY_KEYS_DIR"] = str(folder)
    yield folder
    if previous is None:
        os.environ.pop("RAYNOMALY_KEYS_DIR")
    else:
        os.environ["RAYNOMALY_KEYS_DIR"] = previous


@pytest.fixture(scope="session")
def data_sets() -> dict[str, np.ndarray]:
    """Every data set, loaded once, as float64 C-contiguous matrices."""
    return {name: np.ascontiguousarray(make(), dtype=np.float64) for name, make in DATASETS.items()}


@pytest.fixture
def store_uri(tmp_path) -> str:
    """A fresh local model store."""
    return str(tmp_path / "models")


SERVING_PORTS = {"--http-port": 38000, "--grpc-port": 39000, "--dashboard-port": 38265, "--ray-port": 36379,
                 "--metrics-port": 38080}  # fmt: skip
CONTROLLER_PORT = 38600
TLS_FLAGS = ["--tls", "self-signed", "--https-port", "38443", "--grpcs-port", "39443"]
"""The session's runtime also listens with TLS 1.3 (a local CA's certificate) on these ports."""


class Served:
    """A running local runtime (started with `raynomaly up`) and helpers to drive it."""

    def __init__(self, root, environ):
        from runtime.cluster import ensure_token
        from runtime.serve_api import ServeApi
        from runtime.settings import RuntimeSettings

        self.root, self.environ = root, environ
        self.http = f"http://127.0.0.1:{SERVING_PORTS['--http-port']}"
        self.grpc = f"127.0.0.1:{SERVING_PORTS['--grpc-port']}"
        self.https, self.grpcs = f"https://127.0.0.1:{TLS_FLAGS[3]}", f"127.0.0.1:{TLS_FLAGS[5]}"
        self.metrics_url = f"http://127.0.0.1:{SERVING_PORTS['--metrics-port']}/metrics"
        self.api_url = f"http://127.0.0.1:{SERVING_PORTS['--dashboard-port']}"
        self.settings = RuntimeSettings.resolve(environ)
        self.api = ServeApi(
            f"http://127.0.0.1:{SERVING_PORTS['--dashboard-port']}", ensure_token(self.settings.token_path)
        )

    @functools.cached_property
    def key(self) -> str:
        """An inference key for the tests' traffic: a client token with a rate no test reaches."""
        from controller.settings import ControllerSettings
        from runtime.tokens import mint

        secret = ControllerSettings(runtime=self.settings).secret_path.read_text().strip()
        return mint(secret, "tests", "client", 12 * 3600, rate=1e6)

    @property
    def headers(self) -> dict[str, str]:
        """The Authorization header of `key`."""
        return {"authorization": f"Bearer {self.key}"}

    def cli(self, *args: str, check: bool = True, environ: dict[str, str] | None = None):
        """Run the installed `raynomaly` command against this runtime (or with `environ`)."""
        import subprocess
        import sys
        from pathlib import Path

        command = [str(Path(sys.executable).with_name("raynomaly")), *args]
        env = environ or self.environ
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
        return result

    def desired(self):
        from runtime.record import read_served

        return read_served(self.settings).desired

    def apply(self, desired) -> None:
        """Apply a desired state the way the CLI does (recorded first), and wait until it is served."""
        from runtime.serving import put, wait_ready

        settle = lambda through: wait_ready(self.api, self.http, through, 300)  # noqa: E731
        current = self.desired()
        applied = put(self.api, self.settings, desired, current, settle, based_on=current.revision)
        wait_ready(self.api, self.http, applied, 300)

    def replicas(self) -> dict[str, list[str]]:
        """Replica ids by application."""
        applications = self.api.status()["applications"]
        return {
            name: sorted(r["replica_id"] for d in app["deployments"].values() for r in d["replicas"])
            for name, app in applications.items()
        }


@pytest.fixture(scope="session")
def served(tmp_path_factory):
    """One local runtime for the whole test session (6 logical CPUs): models fraud (v1 iforest, v2
    hbos, v3 ecod), churn (v1 pca) and sensor (v1 and v2 isolation forests with different seeds, v3
    one trained on shifted data), the newest version of each at 100%, and the controller; every
    request traced (Serve's span files); stopped at the end."""
    import os

    from models.data import read_table
    from models.demo import FEATURES, write
    from models.store import ModelStore
    from models.training import TrainRequest, train
    from tests.tables import write_features

    root = tmp_path_factory.mktemp("served")
    write(root / "demo")
    store = ModelStore(str(root / "models"))
    for name, detector in [("fraud", "iforest"), ("fraud", "hbos"), ("fraud", "ecod"), ("churn", "pca")]:
        train(TrainRequest(name, detector, str(root / "demo" / "train.csv"), params={}), store)
    shifted = root / "demo" / "shifted.csv"
    table = read_table(str(root / "demo" / "train.csv"))
    write_features(shifted, np.column_stack([c.to_numpy() for c in table.columns]) + 1.5, FEATURES)
    for data, seed in [("train.csv", 0), ("train.csv", 1), ("shifted.csv", 0)]:
        request = TrainRequest("sensor", "iforest", str(root / "demo" / data), params={"random_state": seed})
        train(request, store)
    environ = {**os.environ, "RAYNOMALY_HOME": str(root / "state"), "RAYNOMALY_STORE": store.uri,
               "RAY_metrics_report_interval_ms": "1000",
               "RAYNOMALY_CONTROLLER_PORT": str(CONTROLLER_PORT)}  # fmt: skip
    runtime = Served(root, environ)
    flags = [str(part) for flag, port in SERVING_PORTS.items() for part in (flag, port)]
    try:
        runtime.cli(
            "up", *flags, *TLS_FLAGS, "--num-cpus", "6", "--tracing-sample", "0.001"
        )  # room for a batch RayJob next to the replicas; every request traced to Serve's span files
        yield runtime
    finally:
        runtime.cli("down", "--ray-port", str(SERVING_PORTS["--ray-port"]), check=False)


@pytest.fixture
def report(request):
    """`report(sent=..., failed=..., recovered_s=..., after=...)`: a fault test's figures, appended as
    one JSON line to the file `RAYNOMALY_FAULTS_REPORT` names (benchmarks/bench_faults.py sets it)."""

    def record(**figures) -> None:
        path = os.environ.get("RAYNOMALY_FAULTS_REPORT")
        if path:
            with Path(path).open("a") as f:
                f.write(json.dumps({"fault": request.node.name, **figures}) + "\n")

    return record
