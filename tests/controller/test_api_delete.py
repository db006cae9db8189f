"""Deleting model versions through the control API: refused while a version serves or takes part in
an active rollout, 404 for what is not there, and audited."""

import pytest
from fastapi.testclient import TestClient

from controller.api.app import Services, create_app
from controller.api.deletion import uses
from controller.store import open_store
from models.store import ModelStore
from runtime.ratelimit import RateLimiter
from runtime.traffic import ModelTraffic
from tests.controller.doubles import TargetDouble
from tests.controller.test_api import SECRET, bearer
from tests.models.test_store import draft


@pytest.fixture
def api(tmp_path):
    """A client, the rollout store, the model store (fraud 1-3) and the target (fraud 1 serves)."""
    models = ModelStore(str(tmp_path / "models"))
    for i in range(3):
        models.publish(draft(), {"params.npz": f"weights {i}".encode()})
    store = open_store(str(tmp_path / "rollouts.db"))
    target = TargetDouble(ModelTraffic(weights={1: 100}))
    services = Services(store=store, targets=lambda ref: target, models=models, secret=SECRET,
                        limiter=RateLimiter(rate=100.0, burst=100), alive=lambda: True)  # fmt: skip
    return TestClient(create_app(services)), store, models, target


def test_an_unused_version_is_deleted_and_audited(api):
    client, store, models, _ = api
    answer = client.delete("/api/v1/models/fraud/versions/3", headers=bearer("deployer", "bob"))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"model": "fraud", "deleted": [3], "remaining": [1, 2]}
    assert models.versions("fraud") == [1, 2]
    [entry] = [e for e in store.audit() if e.action == "delete"]
    assert (entry.actor, entry.detail) == ("bob", {"model": "fraud", "versions": [3]})


@pytest.mark.parametrize(
    ("traffic", "rollout", "version", "says"),
    [
        pytest.param(ModelTraffic(weights={1: 100}), None, 1, "served table (100% of traffic)", id="weights"),
        pytest.param(ModelTraffic(weights={1: 100, 3: 0}), None, 3, "served table (0% of traffic)",
                     id="deployed-unrouted"),
        pytest.param(ModelTraffic(weights={1: 100}, shadows={2: 20}), None, 2, "shadow of 20%", id="shadow"),
        pytest.param(ModelTraffic(weights={1: 100}), 2, 2, "(candidate)", id="rollout-candidate"),
        pytest.param(None, 2, 1, "(stable)", id="rollout-stable"),
    ],
)  # fmt: skip
def test_a_version_in_use_is_refused_naming_the_use(api, traffic, rollout, version, says):
    client, store, models, target = api
    if rollout is not None:
        made = client.post(
            "/api/v1/models/fraud/deploy", json={"version": rollout}, headers=bearer("deployer")
        )
        assert made.status_code == 201, made.text
    target.traffic = traffic
    answer = client.delete(f"/api/v1/models/fraud/versions/{version}", headers=bearer("deployer"))
    assert answer.status_code == 409 and says in answer.json()["detail"], answer.text
    assert models.versions("fraud") == [1, 2, 3]
    assert not [e for e in store.audit() if e.action == "delete"]


def test_deleting_a_model_deletes_every_version_or_none(api):
    client, store, models, target = api
    refused = client.delete("/api/v1/models/fraud", headers=bearer("deployer"))
    assert refused.status_code == 409 and "version 1: the served table" in refused.json()["detail"]
    assert models.versions("fraud") == [1, 2, 3]
    target.traffic = None
    answer = client.delete("/api/v1/models/fraud", headers=bearer("deployer"))
    assert answer.json() == {"model": "fraud", "deleted": [1, 2, 3], "remaining": []}
    assert models.models() == []
    assert client.get("/api/v1/models/fraud/versions", headers=bearer("viewer")).status_code == 404


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        pytest.param("/api/v1/models/fraud/versions/9", "deployer", 404, id="unknown-version"),
        pytest.param("/api/v1/models/nope/versions/1", "deployer", 404, id="unknown-model"),
        pytest.param("/api/v1/models/nope", "deployer", 404, id="unknown-model-all-versions"),
        pytest.param("/api/v1/models/Bad_Name", "deployer", 422, id="invalid-name"),
        pytest.param("/api/v1/models/fraud/versions/0", "deployer", 422, id="version-zero"),
        pytest.param("/api/v1/models/fraud/versions/3?target=mars", "deployer", 422, id="unknown-target"),
        pytest.param("/api/v1/models/fraud/versions/3", "viewer", 403, id="viewer-may-not"),
        pytest.param("/api/v1/models/fraud/versions/3", None, 401, id="no-token"),
    ],
)
def test_bad_deletions_are_4xx_and_delete_nothing(api, path, headers, status):
    client, _, models, _ = api
    answer = client.delete(path, headers=bearer(headers) if headers else {})
    assert answer.status_code == status, answer.text
    assert models.versions("fraud") == [1, 2, 3]


def test_uses_is_empty_for_versions_nothing_uses():
    assert uses([2, 3], ModelTraffic(weights={1: 100}), []) == {}
