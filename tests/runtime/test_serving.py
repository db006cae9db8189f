"""Pure serving decisions: traffic changes, stages, draining, placement, and what is awaited."""

import numpy as np
import pytest

from models.store import ModelStore
from models.training import TrainRequest, train
from runtime.desired import DeployedVersion, DesiredState, ScorerOptions
from runtime.serving import with_traffic
from runtime.traffic import ModelTraffic, TrafficTable
from tests.tables import write_features


def test_with_traffic_adds_named_versions_and_removes_the_rest():
    state = DesiredState(
        store="s",
        versions=[DeployedVersion(model="fraud", version=1), DeployedVersion(model="churn", version=4)],
        traffic=TrafficTable(
            models={"fraud": ModelTraffic(weights={1: 100}), "churn": ModelTraffic(weights={4: 100})}
        ),
    )
    canary = with_traffic(state, "fraud", ModelTraffic(weights={1: 90, 2: 10}))
    assert sorted((v.model, v.version) for v in canary.versions) == [("churn", 4), ("fraud", 1), ("fraud", 2)]
    promoted = with_traffic(canary, "fraud", ModelTraffic(weights={2: 100}))
    assert sorted((v.model, v.version) for v in promoted.versions) == [("churn", 4), ("fraud", 2)]
    assert promoted.traffic.models["churn"] == state.traffic.models["churn"]


@pytest.mark.parametrize(
    ("current", "target", "expected"),
    [
        pytest.param(
            {1: 100}, {1: 90, 2: 10}, [{1: 100, 2: 0}, {1: 90, 2: 10}], id="arriving-deployed-unrouted-first"
        ),
        pytest.param({1: 0, 2: 100}, {2: 100}, [{2: 100, 1: 0}, {2: 100}], id="leaving-kept-at-zero-first"),
        pytest.param({2: 100}, {1: 100}, [{2: 100, 1: 0}, {1: 100, 2: 0}, {1: 100}], id="swap-does-both"),
        pytest.param({1: 50, 2: 50}, {1: 90, 2: 10}, [{1: 90, 2: 10}], id="weights-only-in-one-step"),
    ],
)
def test_stages_never_route_to_an_application_that_is_not_running(current, target, expected):
    from runtime.serving import stages

    tables = stages(ModelTraffic(weights=current), ModelTraffic(weights=target))
    assert [t.weights for t in tables] == expected


def test_stages_mirror_nothing_to_an_arriving_version():
    from runtime.serving import stages

    first = stages(ModelTraffic(weights={1: 100}), ModelTraffic(weights={1: 100}, shadows={2: 100.0}))[0]
    assert first.weights == {1: 100, 2: 0} and first.shadows == {}


def _state(*versions: DeployedVersion) -> DesiredState:
    weights = {v.version: 0 for v in versions}
    weights[versions[0].version] = 100
    return DesiredState(
        store="s",
        versions=list(versions),
        traffic=TrafficTable(models={"fraud": ModelTraffic(weights=weights)}),
    )


def test_a_version_moving_inline_keeps_its_application_until_the_gateway_scores_it():
    from runtime.serving import draining

    dedicated = DeployedVersion(model="fraud", version=1, options=ScorerOptions(placement="dedicated"))
    inline = DeployedVersion(model="fraud", version=1)
    through = draining(_state(dedicated), _state(inline))
    assert through.versions == [inline] and through.draining == [dedicated]
    assert through.applications == ["gateway", "fraud--v1"]
    assert draining(_state(inline), _state(dedicated)) is None  # the gateway waits for a new app itself
    assert with_traffic(through, "fraud", ModelTraffic(weights={1: 100})).draining == []


def test_heavy_neighbour_models_that_name_no_placement_are_placed_dedicated(tmp_path):
    from runtime.serving import HEAVY_CELLS, placed

    X = np.random.default_rng(0).normal(size=(100, 2))
    write_features(tmp_path / "t.csv", X)
    store = ModelStore(str(tmp_path / "models"))
    knn = train(TrainRequest("fraud", "knn", str(tmp_path / "t.csv")), store)
    big = knn.model_copy(update={"training": knn.training.model_copy(update={"fit_rows": HEAVY_CELLS // 2})})
    explicit = DeployedVersion(model="fraud", version=2, options=ScorerOptions(placement="inline"))
    state = _state(DeployedVersion(model="fraud", version=1), explicit)
    assert [v.inline for v in placed(state, {("fraud", 1): knn, ("fraud", 2): big}).versions] == [True, True]
    heavy = placed(state, {("fraud", 1): big, ("fraud", 2): big})
    assert [v.options.placement for v in heavy.versions] == ["dedicated", "inline"]  # explicit choices stand


RUNNING, DEPLOYING = {"status": "RUNNING"}, {"status": "DEPLOYING"}


@pytest.mark.parametrize(
    ("applications", "expected"),
    [
        pytest.param({"gateway": RUNNING, "fraud--v2": RUNNING}, None, id="all-running"),
        pytest.param({"gateway": RUNNING}, "fraud--v2 (NOT_STARTED)", id="not-started-yet"),
        pytest.param({"gateway": DEPLOYING, "fraud--v2": DEPLOYING},
                     "fraud--v2 (DEPLOYING), gateway (DEPLOYING)", id="every-pending-one-named-in-order"),
        pytest.param({"gateway": RUNNING, "fraud--v2": RUNNING, "fraud--v1": DEPLOYING}, None,
                     id="applications-not-desired-are-not-awaited"),
    ],
)  # fmt: skip
def test_applications_awaited(applications, expected):
    from runtime.serving import applications_awaited

    assert applications_awaited(applications, ["gateway", "fraud--v2"]) == expected


def test_an_application_serve_failed_to_deploy_fails_with_its_reason_instead_of_being_awaited():
    from runtime.serving import DeployFailed, applications_awaited

    applications = {
        "gateway": {"status": "DEPLOY_FAILED", "message": "ImportError: runtime"},
        "fraud--v2": {"status": "DEPLOY_FAILED"},
    }
    with pytest.raises(DeployFailed) as failed:
        applications_awaited(applications, ["gateway", "fraud--v2"])
    assert str(failed.value) == (
        "fraud--v2 failed to deploy: no message; gateway failed to deploy: ImportError: runtime"
    )
