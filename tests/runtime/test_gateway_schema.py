"""The gateway against its own OpenAPI document (schemathesis, in-process over ASGI, on the doubled
core): no request is a server error, every status is one the route declares and every body,
scores or error, matches its declared schema. JSON, Arrow and .npy bodies are generated from the
bodies the document declares."""

import pytest
import schemathesis
from hypothesis import strategies as st

import runtime.gateway
from runtime.codec import ARROW, NPY
from runtime.desired import Access
from runtime.openapi import PIN_HEADER
from runtime.tokens import mint
from tests.runtime.hostile import arrow_bodies, finite, npy_bodies, scoreable_arrow, scoreable_npy, table_rows
from tests.runtime.replica import Replica, served, serving
from tests.schema import CHECKS, CONFIG, examples

EXAMPLES = examples(40)
SECRET = "g" * 64
CREDENTIALS = {"authorization": f"Bearer {mint(SECRET, 'fuzzer', 'client', 3600, rate=1e6)}"}
"""Headers every request carries: a key the gateway's access verifies."""
MODEL, VERSION = "fraud", "1"
"""What the doubled core serves (two features, a and b)."""

schemathesis.openapi.media_type(ARROW, scoreable_arrow() | arrow_bodies())
schemathesis.openapi.media_type(NPY, scoreable_npy() | npy_bodies())
schema = schemathesis.openapi.from_dict(runtime.gateway.api.openapi(), config=CONFIG)


@schema.hook
def flatmap_body(context, body):
    """A JSON body names the served model and holds rows it can score in some cases (an OIP body:
    a features tensor of such rows), so that the answers past the checks are fuzzed too."""
    if not isinstance(body, dict):
        return st.just(body)
    if "inputs" in body:  # the Open Inference Protocol's infer: the features tensor, scoreable at times
        tensor = table_rows.map(
            lambda values: {
                "name": "features",
                "datatype": "FP64",
                "shape": [len(values), 2],
                "data": [list(r) for r in values],
            }
        )
        return st.just(body) | tensor.map(lambda t: {**body, "inputs": [t]})
    named = st.sampled_from([body, {**body, "model": MODEL}])
    if "features" in body:
        rows = st.tuples(finite, finite).map(list) | st.builds(lambda a, b: {"a": a, "b": b}, finite, finite)
        return st.tuples(named, rows).map(lambda pair: {**pair[0], "features": pair[1]}) | named
    rows = table_rows.map(lambda values: [list(row) for row in values])
    return st.tuples(named, rows).map(lambda pair: {**pair[0], "instances": pair[1]}) | named


@schema.hook
def flatmap_query(context, query):
    """A binary batch names the served model in some cases."""
    return st.sampled_from([query or {}, {**(query or {}), "model": MODEL}])


@schema.hook
def flatmap_headers(context, headers):
    """A pin names the served version in some cases."""
    return st.sampled_from([headers or {}, {**(headers or {}), PIN_HEADER: VERSION}])


@pytest.fixture(scope="module")
def gateway_api(tmp_path_factory):
    """The gateway's app on the doubled core serving fraud:1 to key holders (and the core's metrics)."""
    secret = tmp_path_factory.mktemp("access") / "secret"
    secret.write_text(SECRET)
    inference, metrics = serving(access=Access(secret_file=str(secret)))
    with served(Replica(inference)) as app:
        yield app, metrics


@schema.parametrize()
@EXAMPLES
def test_every_answer_is_declared_and_none_is_a_server_error(case, gateway_api):
    app, metrics = gateway_api
    case.headers = {**(case.headers or {}), **CREDENTIALS}
    case.call_and_validate(app=app, checks=CHECKS)
    assert all(outcome != "server_error" for *_, outcome in metrics.records)


def test_the_document_declares_the_key_its_scoring_routes_need():
    document = runtime.gateway.api.openapi()
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    for path in ("/api/v1/predict", "/api/v1/predict/batch"):
        operation = document["paths"][path]["post"]
        assert operation["security"] == [{"bearer": []}]
        assert {"401", "403", "429"} <= set(operation["responses"])
