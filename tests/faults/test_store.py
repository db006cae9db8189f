"""The model store failing: unreadable while a gateway replica starts (it refuses, naming why, and
the other replica keeps serving), and full while a version is published (nothing half-written, a
clear error)."""

import errno
import os
import signal
import time

import numpy as np
import pytest
from fsspec.implementations.local import LocalFileSystem

from models.errors import StoreWriteFailed
from models.store import ModelStore
from models.training import TrainRequest, train
from tests.controller.live import Load
from tests.faults.conftest import until
from tests.faults.test_replicas import replica_pids
from tests.tables import write_features


@pytest.mark.integration
@pytest.mark.slow
def test_an_unreadable_store_stops_a_new_gateway_replica_not_the_serving_one(served, report):
    served.cli("traffic", "set", "fraud", "1=100")
    store = served.desired().store
    before = replica_pids(served, "gateway")
    with Load(
        served.http, key=served.key, model="fraud", rate=60, retry_closed=True
    ) as load:  # see test_replicas.py
        os.rename(store, f"{store}.away")
        try:
            os.kill(before[0], signal.SIGKILL)
            message = ""
            for _ in range(120):  # Serve retries the replacement; each refuses with the reason
                gateway = served.api.status()["applications"]["gateway"]
                message = " ".join(d.get("message", "") for d in gateway["deployments"].values())
                if "cannot be loaded inline" in message:
                    break
                time.sleep(0.5)
            serving = len(replica_pids(served, "gateway"))
        finally:
            os.rename(f"{store}.away", store)
        back = until(lambda: len(set(replica_pids(served, "gateway")) - {before[0]}) == 2, timeout_s=120)
        # Serve calls the application healthy again only a while after its replicas are
        running = until(lambda: served.api.status()["applications"]["gateway"]["status"] == "RUNNING", 120)
        time.sleep(2)
    after = f"{len(replica_pids(served, 'gateway'))} gateway replicas RUNNING once the store was back"
    after += f"; {load.closed} connection(s) closed by a reload"
    report(
        sent=sum(load.statuses.values()), failed=load.failed, recovered_s=back and round(back, 1), after=after
    )
    assert "cannot be loaded inline" in message and "no model named" in message, message
    assert serving == 1  # the replacement refused; the other replica went on serving
    assert load.failed == 0 and load.statuses[200] > 100, load.statuses
    assert back is not None, "no second gateway replica in 120 s after the store came back"
    assert running is not None, "the gateway application was not RUNNING 120 s after the store came back"


class FullDisk(LocalFileSystem):
    """A local disk with `free` bytes left: a write that does not fit fails with ENOSPC, as a full
    disk does (what was written before it stays, as on a real disk)."""

    def __init__(self, free: int):
        super().__init__()
        self.free = free

    def pipe_file(self, path, value, **kwargs):
        if len(value) > self.free:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)
        self.free -= len(value)
        return super().pipe_file(path, value, **kwargs)


def test_a_full_disk_while_publishing_leaves_nothing_half_written(tmp_path, report):
    write_features(tmp_path / "t.csv", np.random.default_rng(0).normal(size=(300, 3)))
    root = str(tmp_path / "models")
    request = TrainRequest("fraud", "iforest", str(tmp_path / "t.csv"))
    with pytest.raises(StoreWriteFailed) as refused:
        train(request, ModelStore(root, filesystem=FullDisk(free=1000)))
    assert "No space left on device; nothing was published" in str(refused.value)
    assert "Free space" in str(refused.value) and "fraud version 1" in str(refused.value)
    left = sorted(p.name for p in (tmp_path / "models" / "fraud").iterdir())
    assert left == [], left  # no version folder, no staging folder
    store = ModelStore(root)
    assert store.versions("fraud") == []
    assert train(request, store).version == 1  # the same store works once there is room
    report(sent=0, failed=0, recovered_s=0, after=f"refused: {str(refused.value)[:70]}...")
