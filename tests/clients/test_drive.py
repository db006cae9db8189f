"""drive.py, run in the clients' environment: every call comes back as a result, failures included."""

import pytest

from tests.clients import drive
from tests.tls import free_port


@pytest.mark.parametrize(
    ("client", "scheme", "status"),
    [
        pytest.param("triton-http", "", 0, id="triton-http"),
        pytest.param("triton-grpc", "", "UNAVAILABLE", id="triton-grpc"),
        pytest.param("kserve-rest", "http://", 0, id="kserve-rest"),
    ],
)
def test_a_refused_connection_is_each_call_s_result(client, scheme, status):
    calls = [{"call": "live"}, {"call": "infer", "model": "demo", "rows": [[1.0, 2.0]]}]
    results = drive(client, f"{scheme}127.0.0.1:{free_port()}", calls, headers={"authorization": "Bearer k"})
    assert [result["status"] for result in results] == [status, status]
    assert all("value" not in result and "connect" in result["error"].lower() for result in results)
