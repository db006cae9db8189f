"""A replica killed under load: with two, no request is lost (HAProxy replays a request whose gateway
replica died before answering; the gateway resends a dedicated version's request once).

When Serve replaces the dead gateway replica, HAProxy reloads its configuration, and a keep-alive
connection its old process closes can catch a client's request on the way: the callers here resend
a request once when the connection closed before any response (HTTP/1.1 allows it for idempotent
requests; scoring is one), and how often that happened is reported."""

import os
import signal
import time

import pytest

from runtime.desired import ScorerOptions
from tests.controller.live import Load
from tests.faults.conftest import until

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def replica_pids(served, app: str) -> list[int]:
    deployments = served.api.status()["applications"][app]["deployments"].values()
    return [r["pid"] for d in deployments for r in d["replicas"] if r["state"] == "RUNNING"]


def kill_one_under_load(served, app: str, model: str, report) -> None:
    before = replica_pids(served, app)
    assert len(before) == 2, f"{app} should run 2 replicas, runs {before}"
    with Load(served.http, key=served.key, model=model, rate=80, retry_closed=True) as load:
        time.sleep(3)
        os.kill(before[0], signal.SIGKILL)
        recovered = until(lambda: len(set(replica_pids(served, app)) - {before[0]}) == 2, timeout_s=90)
        time.sleep(3)
    replicas = len(replica_pids(served, app))
    after = f"{replicas} {app} replicas RUNNING; {load.closed} connection(s) closed by a reload"
    report(
        sent=sum(load.statuses.values()),
        failed=load.failed,
        recovered_s=recovered and round(recovered, 1),
        after=after,
    )
    assert load.failed == 0 and load.statuses[200] > 200, load.statuses
    assert recovered is not None, f"Serve did not replace the killed {app} replica in 90 s"


def test_sigkill_of_a_gateway_replica_fails_no_request(served, report):
    served.cli("traffic", "set", "fraud", "1=100")
    kill_one_under_load(served, "gateway", "fraud", report)


def test_sigkill_of_a_dedicated_scorer_replica_fails_no_request(served, report):
    served.cli("traffic", "set", "fraud", "1=100")
    desired = served.desired()
    two = ScorerOptions(placement="dedicated", num_replicas=2)
    versions = [v.model_copy(update={"options": two}) if (v.model, v.version) == ("fraud", 1) else v
                for v in desired.versions]  # fmt: skip
    served.apply(desired.model_copy(update={"versions": versions}))
    try:
        kill_one_under_load(served, "fraud--v1", "fraud", report)
    finally:
        served.apply(served.desired().model_copy(update={"versions": desired.versions}))
