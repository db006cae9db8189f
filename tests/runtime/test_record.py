"""Guarded writes of the served state: a write names the revision it was read at, a writer that
lost the race is refused (never silently overwrites), and concurrent writers that read again and
retry never lose a change, in threads or in processes."""

import multiprocessing
from concurrent.futures import ThreadPoolExecutor

import pytest

from runtime.conflict import Conflict
from runtime.desired import DesiredState
from runtime.record import read_served, record_served, served_revision
from runtime.serving import with_traffic
from runtime.settings import RuntimeSettings
from runtime.traffic import ModelTraffic

SERVED = ModelTraffic(weights={1: 100})


def settings_at(home) -> RuntimeSettings:
    return RuntimeSettings.resolve({"RAYNOMALY_HOME": str(home)})


def step_versions(home: str, writer: int, count: int) -> None:
    """The writer's own model moved to versions 1..`count` in turn, each a guarded
    read-modify-write read again and retried on Conflict (what `traffic set` and the controller do):
    a lost update leaves a model short of `count`, or the revision short of the writes."""
    settings = settings_at(home)
    for version in range(1, count + 1):
        while True:
            served = read_served(settings)
            changed = with_traffic(served.desired, f"w{writer}", ModelTraffic(weights={version: 100}))
            try:
                record_served(settings, changed, based_on=served.revision)
                break
            except Conflict:
                continue


def tables(settings: RuntimeSettings) -> dict[str, dict[int, int]]:
    return {m: t.weights for m, t in read_served(settings).desired.traffic.models.items()}


@pytest.fixture
def settings(tmp_path) -> RuntimeSettings:
    settings = settings_at(tmp_path / "state")
    record_served(settings, DesiredState(store="/models"), based_on=0)
    return settings


def test_of_two_writers_from_the_same_revision_the_second_is_refused_naming_what_to_do(settings):
    read = read_served(settings)
    first = record_served(settings, with_traffic(read.desired, "fraud", SERVED), based_on=read.revision)
    with pytest.raises(Conflict, match=r"at revision 2, not 1 as read.*read it again.*retry"):
        record_served(settings, with_traffic(read.desired, "churn", SERVED), based_on=read.revision)
    assert read_served(settings).desired == first  # the first writer's change stands


def test_a_writer_that_read_nothing_cannot_replace_a_record(settings):
    with pytest.raises(Conflict, match="at revision 1, not 0"):
        record_served(settings, DesiredState(store="/elsewhere"), based_on=0)


def test_concurrent_writers_in_threads_never_lose_a_change(settings):
    with ThreadPoolExecutor(4) as pool:
        writes = [pool.submit(step_versions, str(settings.state_dir), w, 10) for w in range(4)]
    assert [w.result() for w in writes] == [None] * 4
    assert read_served(settings).revision == 1 + 4 * 10
    assert tables(settings) == {f"w{w}": {10: 100} for w in range(4)}


def test_concurrent_writers_in_processes_never_lose_a_change(settings):
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=step_versions, args=(str(settings.state_dir), w, 10)) for w in range(3)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=120)
    assert [w.exitcode for w in writers] == [0, 0, 0]
    assert read_served(settings).revision == 1 + 3 * 10
    assert tables(settings) == {f"w{w}": {10: 100} for w in range(3)}


def test_a_record_that_no_longer_parses_counts_as_none_so_reset_can_replace_it(tmp_path):
    settings = settings_at(tmp_path / "state")
    assert served_revision(settings) == 0
    settings.served_path.parent.mkdir(parents=True)
    settings.served_path.write_text('{"revision": 7, "desired": {"an older": "format"}}')
    assert served_revision(settings) == 7
    settings.served_path.write_text("{half-written")
    assert served_revision(settings) == 0
    assert record_served(settings, DesiredState(store="/models"), based_on=0).revision == 1
