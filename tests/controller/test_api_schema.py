"""The control API against its own OpenAPI document (schemathesis, in-process over ASGI): with an
admin token no request is a server error, every status is one the route declares and every body
matches its declared schema; without a token every protected route answers 401 and only 401.

Deploys, deletions, rollout commands and revocations run for real against a SQLite store and a
model store in a temporary folder, with a double of the target (no Ray, no Kubernetes)."""

import tempfile
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import strategies as st

from controller.api.app import Services, create_app
from controller.api.guard import public_paths
from controller.rollouts.create import new_rollout
from controller.rollouts.spec import COMMANDS, RolloutSpec
from controller.store import open_store
from controller.targets.spec import Served
from models.store import ModelStore
from models.training import TrainRequest, train
from runtime.ratelimit import RateLimiter
from runtime.tokens import mint
from runtime.traffic import ModelTraffic
from tests.controller.doubles import TargetDouble
from tests.schema import CHECKS, CONFIG, examples

SECRET = "s" * 64
ADMIN = {"Authorization": f"Bearer {mint(SECRET, 'fuzzer', 'admin', 3600)}"}
EXAMPLES = examples(25)
SERVING = ModelTraffic(weights={1: 100})
ROLLOUT = "0123456789ab"
"""The id of the rollout of `churn` the stores start with (what rollout commands name)."""
KNOWN = {"model": ["fraud", "churn"], "version": [1, 2], "rollout_id": [ROLLOUT], "command": list(COMMANDS)}
"""Path parameters naming what the stores hold: fraud:1 serves, fraud:2 does not, churn:2 is the
candidate of rollout `ROLLOUT`."""


def _services(root: str) -> Services:
    """The control API's services over the stores under `root`, a target on which version 1 of
    every model serves, and a rate limit no generated run reaches."""
    return Services(
        store=open_store(f"{root}/rollouts.db"),
        targets=lambda ref: TargetDouble(SERVING),
        models=ModelStore(f"{root}/models"),
        secret=SECRET,
        limiter=RateLimiter(rate=1e6, burst=10**6),
        alive=lambda: True,
    )


def _document() -> dict:
    """The control API's OpenAPI document (the same whatever its stores hold)."""
    with tempfile.TemporaryDirectory() as root:
        return create_app(_services(root)).openapi()


schema = schemathesis.openapi.from_dict(_document(), config=CONFIG)


@schema.hook
def flatmap_path_parameters(context, path_parameters):
    """Most generated names match nothing (404); here some name what the stores hold instead, so
    that the answers past the lookups are fuzzed too."""
    given = path_parameters or {}
    return st.fixed_dictionaries(
        {name: st.sampled_from([value, *KNOWN.get(name, [])]) for name, value in given.items()}
    )


@schema.hook
def flatmap_body(context, body):
    """A deploy body names a version the store holds in some cases."""
    if isinstance(body, dict) and "version" in body:
        return st.sampled_from([body["version"], *KNOWN["version"]]).map(lambda v: {**body, "version": v})
    return st.just(body)


def stocked(root: Path) -> FastAPI:
    """The control API over stores under `root` holding fraud:1, fraud:2, churn:1 and churn:2, with
    churn rolling out (rollout `ROLLOUT`)."""
    from models.demo import write

    write(root / "demo")
    services = _services(str(root))
    for model in ("fraud", "fraud", "churn", "churn"):
        train(TrainRequest(model, "hbos", str(root / "demo" / "train.csv"), params={}), services.models)
    rollout = new_rollout(RolloutSpec(model="churn", candidate=2), Served(SERVING), 0.0)
    services.store.create(rollout.model_copy(update={"id": ROLLOUT}), "fixture")
    return create_app(services)


@pytest.fixture(scope="module")
def control_api(tmp_path_factory):
    return stocked(tmp_path_factory.mktemp("schema"))


@schema.parametrize()
@EXAMPLES
def test_an_admin_gets_declared_answers_and_never_a_server_error(case, control_api):
    """The admin token replaces any credentials generated (those are the next test's)."""
    case.headers = {**(case.headers or {}), **ADMIN}
    case.call_and_validate(app=control_api, checks=CHECKS)


@schema.parametrize()
@EXAMPLES
def test_without_a_valid_token_every_protected_route_answers_401(case, control_api):
    """The credentials schemathesis generates (none, or random bearer values) never verify."""
    response = case.call(app=control_api)
    case.validate_response(response, checks=CHECKS)
    if case.path not in public_paths(control_api):
        assert response.status_code == 401, (case.method, case.path, response.text)
        assert response.headers["www-authenticate"] == ["Bearer"]
