"""The model store: atomic, checksummed, increasing versions, safe under concurrent publishers."""

import json
import multiprocessing
import stat
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from models.distribution import describe
from models.errors import IntegrityError, InvalidSpec, ModelNotFound, StoreWriteFailed
from models.manifest import Manifest, TrainingSummary
from models.parity import STRICT, compare
from models.store import ModelStore, check_name, parse_ref


def draft(model: str = "fraud") -> Manifest:
    import numpy as np

    scores = np.linspace(0, 1, 50)
    return Manifest(
        model=model,
        version=0,
        detector="iforest",
        backend="numba",
        artifact="params.npz",
        params={},
        contamination=0.1,
        threshold=0.9,
        n_features=2,
        feature_names=["a", "b"],
        training=TrainingSummary(
            source="t.csv",
            source_sha256="0" * 64,
            rows=50,
            fit_rows=40,
            holdout_rows=10,
            split_seed=0,
            feature_mean=[0, 0],
            feature_std=[1, 1],
            feature_min=[0, 0],
            feature_max=[1, 1],
        ),
        reference=describe(scores, 0.9),
        parity=compare(scores, scores, 0.9, STRICT, reference_name="r", mode="batch"),
        libraries={},
        created_at=datetime.now(UTC),
    )


def test_versions_increase_and_read_back_verified(store_uri):
    store = ModelStore(store_uri)
    published = [store.publish(draft(), {"params.npz": f"artifact {i}".encode()}) for i in range(3)]
    assert [m.version for m in published] == [1, 2, 3]
    assert store.versions("fraud") == [1, 2, 3] and store.models() == ["fraud"]
    manifest, files = store.read("fraud", 2)
    assert manifest == published[1] and files == {"params.npz": b"artifact 1"}
    assert store.read("fraud")[0].version == 3


def test_nothing_is_left_behind_when_publishing_fails(store_uri):
    store = ModelStore(store_uri)
    with pytest.raises(TypeError):
        store.publish(draft(), {"params.npz": "not bytes"})
    assert store.versions("fraud") == []
    assert not Path(store_uri, "fraud").exists() or not list(Path(store_uri, "fraud").iterdir())


def test_a_modified_artifact_is_refused_naming_the_file(store_uri):
    store = ModelStore(store_uri)
    store.publish(draft(), {"params.npz": b"weights"})
    Path(store_uri, "fraud", "1", "params.npz").write_bytes(b"weightz")
    with pytest.raises(IntegrityError, match=r"fraud/1/params.npz: sha256 mismatch"):
        store.read("fraud", 1)


def test_an_edited_manifest_is_refused(store_uri):
    store = ModelStore(store_uri)
    store.publish(draft(), {"params.npz": b"weights"})
    path = Path(store_uri, "fraud", "1", "manifest.json")
    document = json.loads(path.read_text())
    document["threshold"] = 99.0
    path.write_text(json.dumps(document))
    with pytest.raises(IntegrityError, match=r"fraud/1/manifest.json: checksum mismatch"):
        store.read("fraud", 1)


def test_a_half_written_version_is_refused(store_uri):
    store = ModelStore(store_uri)
    store.publish(draft(), {"params.npz": b"weights"})
    Path(store_uri, "fraud", "2").mkdir()  # e.g. a copy interrupted before its manifest
    Path(store_uri, "fraud", "1", "params.npz").unlink()
    with pytest.raises(IntegrityError, match=r"fraud/2/manifest.json: missing"):
        store.read("fraud")
    with pytest.raises(IntegrityError, match=r"fraud/1/params.npz: missing"):
        store.read("fraud", 1)


def test_staging_folders_are_not_versions(store_uri):
    store = ModelStore(store_uri)
    store.publish(draft(), {"params.npz": b"weights"})
    Path(store_uri, "fraud", ".staging-crashed").mkdir()
    assert store.versions("fraud") == [1]


def _publish_many(uri: str, count: int, queue) -> None:
    store = ModelStore(uri)
    queue.put([store.publish(draft(), {"params.npz": b"w"}).version for _ in range(count)])


def test_concurrent_publishers_get_distinct_versions(store_uri):
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    workers = [context.Process(target=_publish_many, args=(store_uri, 5, queue)) for _ in range(4)]
    for w in workers:
        w.start()
    versions = sorted(v for _ in workers for v in queue.get(timeout=120))
    for w in workers:
        w.join(timeout=60)
        assert w.exitcode == 0
    assert versions == list(range(1, 21))
    store = ModelStore(store_uri)
    assert store.versions("fraud") == versions
    assert all(store.read("fraud", v)[0].version == v for v in versions)


def test_fsspec_uris_work_the_same(tmp_path):
    store = ModelStore("memory://raynomaly-test-store")
    published = store.publish(draft("remote"), {"params.npz": b"weights"})
    again = ModelStore("memory://raynomaly-test-store")
    assert again.read("remote", published.version)[1] == {"params.npz": b"weights"}
    again.fs.pipe_file(f"{again.root}/remote/1/params.npz", b"tampered")
    with pytest.raises(IntegrityError):
        again.read("remote", 1)


def test_missing_models_and_versions_are_not_found(store_uri):
    store = ModelStore(store_uri)
    with pytest.raises(ModelNotFound, match="no model named 'fraud'"):
        store.read("fraud")
    store.publish(draft(), {"params.npz": b"w"})
    with pytest.raises(ModelNotFound, match="has no version 7; versions: 1"):
        store.read("fraud", 7)


@pytest.mark.parametrize("name", ["a", "fraud", "fraud-v2", "x1"])
def test_valid_names(name):
    assert check_name(name) == name


@pytest.mark.parametrize(
    "name", ["", "Fraud", "a--b", "-a", "a-", "a_b", "../etc", "a/b", "x" * 41, "evil\n", "a\n"]
)
def test_invalid_names(name):
    with pytest.raises(InvalidSpec, match="invalid model name"):
        check_name(name)


@pytest.mark.parametrize(("ref", "parsed"), [("fraud", ("fraud", None)), ("fraud:3", ("fraud", 3))])
def test_parse_ref(ref, parsed):
    assert parse_ref(ref) == parsed


@pytest.mark.parametrize("version", ["latest", "²", "١٢", "-1", " 1", "3\n"])
def test_parse_ref_refuses_non_integer_versions(version):
    with pytest.raises(InvalidSpec, match="NAME:VERSION"):
        parse_ref(f"fraud:{version}")


@pytest.mark.parametrize("folder", ["²", "١٢", "3a", ".9"])
def test_folders_that_are_not_ascii_numbers_are_not_versions(store_uri, folder):
    store = ModelStore(store_uri)
    store.publish(draft(), {"params.npz": b"w"})
    (Path(store_uri) / "fraud" / folder).mkdir()
    assert store.versions("fraud") == [1] and store.models() == ["fraud"]
    assert store.publish(draft(), {"params.npz": b"w"}).version == 2


def test_a_lock_file_that_is_a_link_is_refused_not_followed(store_uri, tmp_path):
    store = ModelStore(store_uri)
    store.publish(draft(), {"params.npz": b"w"})
    target = tmp_path / "precious"
    target.write_text("keep me")
    lock = Path(store_uri) / ".fraud.lock"
    lock.unlink()
    lock.symlink_to(target)
    with pytest.raises(StoreWriteFailed, match=r"\.fraud\.lock is a symbolic link.*Remove it"):
        store.publish(draft(), {"params.npz": b"w"})
    assert target.read_text() == "keep me" and store.versions("fraud") == [1]


def test_a_local_store_is_its_owners_alone_whatever_the_umask(store_uri, open_umask):
    store = ModelStore(store_uri)
    store.publish(draft(), {"params.npz": b"w"})
    root = Path(store_uri)

    def mode(path: Path) -> int:
        return stat.S_IMODE(path.stat().st_mode)

    assert [mode(folder) for folder in (root, root / "fraud", root / "fraud" / "1")] == [0o700] * 3
    assert {name: mode(root / "fraud" / "1" / name) for name in ("params.npz", "manifest.json")} == {
        "params.npz": 0o600,
        "manifest.json": 0o600,
    }
    assert mode(root / ".fraud.lock") == 0o600


def _lock_of(store_uri: str, model: str = "fraud"):
    """The model's publishing lock as another process holding it would."""
    from filelock import FileLock

    return FileLock(str(Path(store_uri, f".{model}.lock")))


def _in_thread(call) -> threading.Thread:
    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    return thread


def test_deleting_a_version_leaves_the_others(store_uri):
    store = ModelStore(store_uri)
    for i in range(3):
        store.publish(draft(), {"params.npz": f"artifact {i}".encode()})
    store.delete("fraud", 2)
    assert store.versions("fraud") == [1, 3] and store.read("fraud", 3)[1] == {"params.npz": b"artifact 2"}
    assert not [p for p in Path(store_uri, "fraud").iterdir() if p.name.startswith(".deleting")]


def test_deleting_the_last_version_removes_the_model(store_uri):
    store = ModelStore(store_uri)
    store.publish(draft(), {"params.npz": b"weights"})
    store.delete("fraud", 1)
    assert store.models() == [] and not Path(store_uri, "fraud").exists()
    assert store.publish(draft(), {"params.npz": b"again"}).version == 2  # numbers are never reused


def test_a_deleted_versions_number_is_never_published_again(store_uri):
    store = ModelStore(store_uri)
    for i in range(3):
        store.publish(draft(), {"params.npz": f"artifact {i}".encode()})
    store.delete("fraud", 3)
    store.delete("fraud", 1)
    assert store.publish(draft(), {"params.npz": b"next"}).version == 4
    assert store.versions("fraud") == [2, 4]


def test_a_damaged_record_of_deleted_versions_is_refused_naming_it(store_uri):
    store = ModelStore(store_uri)
    store.publish(draft(), {"params.npz": b"weights"})
    store.delete("fraud", 1)
    Path(store_uri, ".fraud.retired").write_text("three")
    with pytest.raises(IntegrityError, match=r"\.fraud\.retired: 'three' is not a version number"):
        store.publish(draft(), {"params.npz": b"weights"})


def test_a_half_written_version_can_be_deleted(store_uri):
    store = ModelStore(store_uri)
    store.publish(draft(), {"params.npz": b"weights"})
    store.publish(draft(), {"params.npz": b"weights"})
    Path(store_uri, "fraud", "2", "manifest.json").unlink()
    store.delete("fraud", 2)
    assert store.versions("fraud") == [1]


@pytest.mark.parametrize(("model", "version"), [("fraud", 7), ("nope", 1)])
def test_deleting_an_unknown_version_is_refused(store_uri, model, version):
    store = ModelStore(store_uri)
    store.publish(draft(), {"params.npz": b"weights"})
    with pytest.raises(ModelNotFound):
        store.delete(model, version)
    assert store.versions("fraud") == [1]


def test_delete_waits_for_the_models_lock(store_uri):
    store = ModelStore(store_uri)
    store.publish(draft(), {"params.npz": b"weights"})
    store.publish(draft(), {"params.npz": b"weights"})
    lock = _lock_of(store_uri)
    with lock:
        deleting = _in_thread(lambda: store.delete("fraud", 1))
        deleting.join(0.5)
        assert deleting.is_alive() and store.versions("fraud") == [1, 2]
    deleting.join(10)
    assert not deleting.is_alive() and store.versions("fraud") == [2]


def test_a_publish_racing_the_deletion_of_the_last_version_lands_whole(store_uri):
    store = ModelStore(store_uri)
    store.publish(draft(), {"params.npz": b"old"})
    failures = []

    def attempt(call):
        try:
            call()
        except Exception as e:  # collected: the assertion below names it
            failures.append(e)

    with _lock_of(store_uri):
        deleting = _in_thread(lambda: attempt(lambda: store.delete("fraud", 1)))
        publishing = _in_thread(lambda: attempt(lambda: store.publish(draft(), {"params.npz": b"new"})))
        time.sleep(0.3)
    deleting.join(10), publishing.join(10)
    assert failures == []
    [version] = store.versions("fraud")
    assert store.read("fraud", version)[1] == {"params.npz": b"new"}
