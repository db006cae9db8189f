"""The control API's model registry (models, versions, history) over a real rollout store and model
store, with a double of the local target and a KubeRay target that does not answer."""

import math

import pytest
from fastapi.testclient import TestClient

from controller.analysis.verdict import Look, Measurement, Outcome, Verdict
from controller.api.app import Services, create_app
from controller.environments.spec import Environments
from controller.rollouts.spec import Rollout, RolloutSpec
from controller.rollouts.state import Phase
from controller.store import open_store
from controller.targets.spec import TargetError
from models.store import ModelStore
from models.training import TrainRequest, train
from runtime.ratelimit import RateLimiter
from runtime.tokens import mint
from runtime.traffic import ModelTraffic
from tests.controller.doubles import TargetDouble

SECRET = "s" * 64
VIEWER = {"Authorization": f"Bearer {mint(SECRET, 'vera', 'viewer', 12 * 3600)}"}
KUBERAY = {"kind": "kuberay", "namespace": "serving", "rayservice": "fraud"}
ENVIRONMENTS = Environments(environments={
    "dev": {"target": {"kind": "local"}, "rollout": {"shadow": {"steps": [50, 100]}}},
    "production": {"target": KUBERAY, "upstream": "dev"},
})  # fmt: skip
"""dev on the local runtime (the double), production on a RayService that does not answer."""
SERVING = ModelTraffic(weights={1: 100}, shadows={2: 50.0})
FIGURES = {"requests": 120.0, "p50_ms": 3.5, "p99_ms": 9.25, "error_rate": 0.0, "rows": 1200.0,
           "anomaly_rate": 0.1, "psi_reference": 0.02}  # fmt: skip


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """fraud v1 (iforest) and v2 (hbos), churn v1 (hbos), fraud-eu v1 (iforest on ONNX)."""
    from models.demo import write

    root = tmp_path_factory.mktemp("registry")
    write(root / "demo")
    store = ModelStore(str(root / "models"))
    trained = [("fraud", "iforest", "numba"), ("fraud", "hbos", "numba"), ("churn", "hbos", "numba"),
               ("fraud-eu", "iforest", "onnx")]  # fmt: skip
    for name, detector, backend in trained:
        train(TrainRequest(name, detector, str(root / "demo" / "train.csv"), backend=backend), store)
    return store


def _target(ref):
    if ref.kind == "kuberay":
        raise TargetError("the Kubernetes API at https://k8s:6443 refused the connection")
    return TargetDouble(SERVING)


def serving(models: ModelStore, root) -> tuple[TestClient, object]:
    """The control API over `models` and a rollout store under `root`, and that store."""
    store = open_store(str(root / "rollouts.db"))
    services = Services(
        store=store, targets=_target, models=models, secret=SECRET,
        limiter=RateLimiter(rate=1e6, burst=10**6), alive=lambda: True, environments=ENVIRONMENTS,
    )  # fmt: skip
    return TestClient(create_app(services)), store


@pytest.fixture
def api(models, tmp_path):
    return serving(models, tmp_path)


def ended(store, id: str, stable: int | None, candidate: int, phase: Phase, created: float,
          promoted_at: float | None = None, environment: str | None = "production",
          strategy: str = "canary", looks: tuple[Look, ...] = ()) -> Rollout:  # fmt: skip
    """A rollout of fraud recorded as created at `created`, then saved in `phase` with `looks`."""
    target = KUBERAY if environment == "production" else {}
    spec = RolloutSpec(model="fraud", candidate=candidate, target=target, **{strategy.replace("-", "_"): {}})
    made = store.create(Rollout(id=id, spec=spec, stable=stable, environment=environment,
                                created=created, updated=created), "alice")  # fmt: skip
    events = [look.event(created + 1) for look in looks]
    update = {"phase": phase, "promoted_at": promoted_at}
    return store.save(made.model_copy(update=update), "controller", phase.value, events, {})


def get(client, path: str, **params):
    return client.get(path, params=params, headers=VIEWER)


def test_models_lists_each_with_its_newest_detector_backend_and_traffic(api):
    client, _ = api
    answer = get(client, "/api/v1/models")
    assert answer.status_code == 200 and answer.headers["X-Total-Count"] == "3"
    assert "Link" not in answer.headers
    listed = {m["model"]: (m["versions"], m["detector"], m["backend"]) for m in answer.json()}
    assert listed == {"churn": ([1], "hbos", "numba"), "fraud": ([1, 2], "hbos", "numba"),
                      "fraud-eu": ([1], "iforest", "onnx")}  # fmt: skip
    assert answer.json()[0]["traffic"]["shadows"] == {"2": 50.0}


@pytest.mark.parametrize(
    ("params", "expected", "total"),
    [
        pytest.param({"name": "fraud"}, ["fraud", "fraud-eu"], 2, id="name-is-a-substring"),
        pytest.param({"name": "eu"}, ["fraud-eu"], 1, id="name-inside"),
        pytest.param({"detector": "iforest"}, ["fraud-eu"], 1, id="detector-of-the-newest-version"),
        pytest.param({"detector": "hbos", "name": "fr"}, ["fraud"], 1, id="filters-combine"),
        pytest.param({"backend": "numba"}, ["churn", "fraud"], 2, id="backend"),
        pytest.param({"detector": "lof"}, [], 0, id="nothing-matches"),
        pytest.param({"offset": 5}, [], 3, id="offset-past-the-end"),
    ],
)
def test_models_filters(api, params, expected, total):
    client, _ = api
    answer = get(client, "/api/v1/models", **params)
    assert [m["model"] for m in answer.json()] == expected
    assert answer.headers["X-Total-Count"] == str(total)


def test_models_pages_link_to_the_next_page_while_there_is_one(api):
    client, _ = api
    first = get(client, "/api/v1/models", limit=2, backend="numba")
    assert [m["model"] for m in first.json()] == ["churn", "fraud"] and "Link" not in first.headers
    pages, url = [], "/api/v1/models?limit=1"
    while url:
        answer = client.get(url, headers=VIEWER)
        pages.append([m["model"] for m in answer.json()])
        link = answer.headers.get("Link")
        url = link[link.index("<") + 1 : link.index(">")] if link else None
        assert link is None or link.endswith('>; rel="next"')
    assert pages == [["churn"], ["fraud"], ["fraud-eu"]]


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"limit": 0}, id="limit-zero"),
        pytest.param({"limit": 1001}, id="limit-over-1000"),
        pytest.param({"offset": -1}, id="negative-offset"),
        pytest.param({"target": "mars"}, id="unknown-target"),
    ],
)
def test_models_refuses_bad_paging_as_422(api, params):
    client, _ = api
    answer = get(client, "/api/v1/models", **params)
    assert answer.status_code == 422, answer.text


def test_versions_show_training_parity_rollouts_and_where_each_serves(api):
    client, store = api
    look = Look(Verdict.of([
        Measurement("p99_ms", Outcome.SUCCESSFUL, 9.25, 500.0, "p99 within"),
        Measurement("ks_reference", Outcome.SUCCESSFUL, 0.03, 0.1, "ks", kind="judge", p_value=0.4,
                    alpha=0.001, low=0.0, high=0.08, samples=100.0, needed=math.inf),
    ]), 1, 30.0, {"1": {**FIGURES, "p50_ms": 2.0}, "2": FIGURES})  # fmt: skip
    ended(store, "r-dev", 1, 2, Phase.SUCCEEDED, 100.0, environment="dev", strategy="shadow", looks=(look,))
    ended(store, "r-prod", 1, 2, Phase.ROLLED_BACK, 200.0)
    answer = get(client, "/api/v1/models/fraud/versions")
    assert answer.status_code == 200, answer.text
    first, second = answer.json()
    assert (first["version"], first["detector"], second["detector"]) == (1, "iforest", "hbos")
    assert set(second["training"]) == {"source", "source_sha256", "rows", "fit_rows", "holdout_rows"}
    assert second["parity"]["passed"] is True and first["rollouts"] == []
    assert [(r["rollout"], r["environment"], r["phase"]) for r in second["rollouts"]] == [
        ("r-prod", "production", "RolledBack"), ("r-dev", "dev", "Succeeded"),
    ]  # fmt: skip
    prod, dev = second["rollouts"]
    assert prod["seen"] is None
    seen = dev["seen"]
    assert (seen["outcome"], seen["step"], seen["evidence_s"]) == ("Successful", 1, 30.0)
    shown = ("requests", "p50_ms", "p99_ms", "error_rate", "anomaly_rate", "psi_reference")
    assert seen["candidate"] == {k: FIGURES[k] for k in shown}
    assert [(m["name"], m["value"], m["p_value"]) for m in seen["measurements"]] == [
        ("p99_ms", 9.25, None), ("ks_reference", 0.03, 0.4),
    ]  # fmt: skip
    assert first["environments"]["dev"] == {"target": "local", "weight": 100, "shadow": 0.0}
    assert second["environments"]["dev"] == {"target": "local", "weight": 0, "shadow": 50.0}
    production = second["environments"]["production"]
    assert production["target"] == "kuberay:serving/fraud" and "refused the connection" in production["error"]


def test_a_version_whose_manifest_does_not_verify_is_named_in_the_list_and_409_in_versions(tmp_path):
    (tmp_path / "models" / "broken" / "1").mkdir(parents=True)
    (tmp_path / "models" / "broken" / "1" / "manifest.json").write_text("{}")
    client, _ = serving(ModelStore(str(tmp_path / "models")), tmp_path)
    [listed] = get(client, "/api/v1/models").json()
    assert (listed["model"], listed["detector"]) == ("broken", None)
    assert "not a valid manifest" in listed["problem"]
    assert get(client, "/api/v1/models", detector="hbos").json() == []
    answer = get(client, "/api/v1/models/broken/versions")
    assert answer.status_code == 409 and "not a valid manifest" in answer.json()["detail"]


def test_versions_of_an_unknown_model_is_404(api):
    client, _ = api
    answer = get(client, "/api/v1/models/nope/versions")
    assert answer.status_code == 404 and "no model 'nope'" in answer.json()["detail"]


@pytest.fixture
def history(api):
    """fraud in production: v1 before the records, v2 from 1000 (canary), a rollback of v3, v4 from
    3000 (blue-green), v5 in progress; in dev a shadow of v2 that changed nothing; a direct deploy."""
    client, store = api
    ended(
        store, "dev-2", 1, 2, Phase.SUCCEEDED, 500.0, promoted_at=600.0, environment="dev", strategy="shadow"
    )
    ended(store, "prod-2", 1, 2, Phase.SUCCEEDED, 900.0, promoted_at=1000.0)
    ended(store, "prod-3", 2, 3, Phase.ROLLED_BACK, 2000.0)
    ended(store, "prod-4", 2, 4, Phase.SUCCEEDED, 2900.0, promoted_at=3000.0, strategy="blue-green")
    ended(store, "local-1", None, 1, Phase.SUCCEEDED, 3500.0, promoted_at=3600.0, environment=None)
    spec = RolloutSpec(model="fraud", candidate=5, target=KUBERAY)
    store.create(Rollout(id="prod-5", spec=spec, stable=4, environment="production", created=4000.0,
                         updated=4000.0, phase=Phase.PROGRESSING), "alice")  # fmt: skip
    return client


def test_history_lists_every_period_newest_first(history):
    answer = get(history, "/api/v1/models/fraud/history", environment="production")
    assert answer.status_code == 200, answer.text
    fields = ("version", "from", "to", "rollout", "how", "in_progress")
    assert [tuple(p[k] for k in fields) for p in answer.json()] == [
        (5, 4000.0, None, "prod-5", "canary, Progressing", True),
        (4, 3000.0, None, "prod-4", "blue-green", False),
        (2, 1000.0, 3000.0, "prod-2", "canary", False),
        (1, None, 1000.0, None, "before the records", False),
    ]  # fmt: skip
    everywhere = get(history, "/api/v1/models/fraud/history").json()
    assert {(p["environment"], p["version"]) for p in everywhere} >= {("dev", 1), ("local", 1)}
    assert ("dev", 2) not in {(p["environment"], p["version"]) for p in everywhere}


@pytest.mark.parametrize(
    ("at", "version"),
    [
        pytest.param(950.0, 1, id="known-from-the-first-rollout"),
        pytest.param(1000.0, 2, id="at-the-switch"),
        pytest.param(2500.0, 2, id="through-a-rollback"),
        pytest.param(4500.0, 4, id="while-the-next-is-in-progress"),
    ],
)
def test_history_at_names_the_one_period_holding_that_time(history, at, version):
    answer = get(history, "/api/v1/models/fraud/history", environment="production", at=at)
    assert answer.status_code == 200, answer.text
    assert answer.json()["version"] == version and answer.json()["environment"] == "production"


@pytest.mark.parametrize(
    ("path", "params", "status", "says"),
    [
        pytest.param("fraud", {"environment": "production", "at": 10.0}, 404,
                     "they begin at 1970-01-01T00:15:00Z (at=900 or later)", id="before-the-records"),
        pytest.param("fraud", {"at": 10.0}, 422, "name the environment too", id="at-without-environment"),
        pytest.param("fraud", {"environment": "staging"}, 404,
                     "choose one of dev, local, production", id="unknown-environment"),
        pytest.param("nope", {}, 404, "no model 'nope'", id="unknown-model"),
        pytest.param("fraud", {"environment": "production", "at": -1}, 422, "at", id="negative-time"),
    ],
)  # fmt: skip
def test_history_refusals_name_what_to_do(history, path, params, status, says):
    answer = get(history, f"/api/v1/models/{path}/history", **params)
    assert answer.status_code == status and says in answer.json()["detail"], answer.text


def test_history_of_an_environment_that_never_served_it_is_404_saying_so(api):
    client, store = api
    ended(store, "first", None, 1, Phase.ROLLED_BACK, 100.0)
    answer = get(client, "/api/v1/models/fraud/history", environment="production", at=150.0)
    assert answer.status_code == 404 and "show no version of fraud serving" in answer.json()["detail"]
    assert get(client, "/api/v1/models/fraud/history", environment="dev").json() == []
