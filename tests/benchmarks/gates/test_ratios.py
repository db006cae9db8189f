"""The ratios gate holds fresh speed-ups to the recorded ones within a tolerance, by name."""

import json
import subprocess
import sys

import pytest

from benchmarks.gates.ratios import (
    BENCH,
    RECORDED,
    Comparison,
    Outcome,
    compare,
    failures,
    speedups,
)


@pytest.mark.parametrize(
    ("recorded", "fresh", "outcome"),
    [
        pytest.param(10.0, 10.0, Outcome.HELD, id="unchanged-holds"),
        pytest.param(10.0, 25.0, Outcome.HELD, id="faster-holds"),
        pytest.param(10.0, 7.0, Outcome.HELD, id="exactly-at-tolerance-holds"),
        pytest.param(10.0, 7.5, Outcome.HELD, id="within-tolerance-holds"),
        pytest.param(10.0, 6.99, Outcome.BELOW, id="just-below-tolerance-fails"),
        pytest.param(1.2, 0.5, Outcome.BELOW, id="slower-than-reference-fails"),
        pytest.param(10.0, None, Outcome.MISSING, id="recorded-not-measured-fails"),
        pytest.param(None, 3.0, Outcome.NEW, id="measured-not-recorded-passes"),
    ],
)
def test_outcome_of_one_ratio(recorded, fresh, outcome):
    before = {} if recorded is None else {"knn/numba batch 1": recorded}
    now = {} if fresh is None else {"knn/numba batch 1": fresh}
    assert compare(before, now, 0.7) == [Comparison("knn/numba batch 1", recorded, fresh, outcome)]


def test_the_tolerance_moves_the_line():
    assert compare({"r": 10.0}, {"r": 8.0}, 0.9)[0].outcome is Outcome.BELOW
    assert compare({"r": 10.0}, {"r": 8.0}, 0.8)[0].outcome is Outcome.HELD


def test_every_ratio_of_either_run_is_compared_once_in_name_order():
    comparisons = compare({"b": 2.0, "a": 1.0}, {"a": 1.0, "c": 3.0}, 0.7)
    assert [(c.ratio, c.outcome) for c in comparisons] == [
        ("a", Outcome.HELD),
        ("b", Outcome.MISSING),
        ("c", Outcome.NEW),
    ]


def test_failures_name_the_ratio_and_the_shortfall_only_for_failing_outcomes():
    comparisons = compare(
        {"iforest/numba batch 1": 400.0, "ecod/numba batch 1": 1000.0, "hbos/numba batch 1": 80.0},
        {"iforest/numba batch 1": 100.0, "hbos/numba batch 1": 80.0, "pca/onnx batch 1": 20.0},
        0.7,
    )
    assert failures(comparisons, 0.7) == [
        "ecod/numba batch 1: recorded (1000.00x) but not measured by the fresh run",
        "iforest/numba batch 1: 100.00x is below 0.7 x the recorded 400.00x (= 280.00x)",
    ]


def test_speedups_are_named_by_detector_backend_and_batch():
    document = {
        "results": [
            {"detector": "iforest", "backend": "onnx", "batch": 64, "speedup": 31.5, "auto": False},
            {"detector": "iforest", "backend": "numba", "batch": 64, "speedup": 78.0, "auto": True},
        ]
    }
    assert speedups(document, "x.json") == {"iforest/onnx batch 64": 31.5, "iforest/numba batch 64": 78.0}


@pytest.mark.parametrize(
    "document",
    [
        pytest.param({"runs": []}, id="no-results"),
        pytest.param({"results": [{"detector": "knn", "backend": "numba", "batch": 1}]}, id="no-speedup"),
        pytest.param({"results": [{"detector": "knn", "backend": "numba", "batch": 1, "speedup": "fast"}]},
                     id="not-a-number"),
    ],
)  # fmt: skip
def test_a_document_that_is_no_scoring_benchmark_is_refused_by_name(document):
    with pytest.raises(ValueError, match=r"serving\.json is not a scoring benchmark document"):
        speedups(document, "serving.json")


def test_the_recorded_results_hold_against_themselves():
    recorded = speedups(json.loads(RECORDED.read_text()), str(RECORDED))
    assert len(recorded) >= 24
    assert all(c.outcome is Outcome.HELD for c in compare(recorded, recorded, 0.7))


def test_the_gate_exits_1_naming_a_ratio_below_tolerance(tmp_path):
    fresh = json.loads(RECORDED.read_text())
    slowed = next(r for r in fresh["results"] if r["detector"] == "ecod" and r["batch"] == 1)
    slowed["speedup"] /= 2
    path = tmp_path / "fresh.json"
    path.write_text(json.dumps(fresh))
    gate = [sys.executable, str(BENCH.parent / "gates" / "ratios.py"), "--fresh", str(path)]
    failed = subprocess.run(gate, capture_output=True, text=True)
    assert failed.returncode == 1 and "ecod/numba batch 1:" in failed.stdout
    passed = subprocess.run([*gate, "--tolerance", "0.4"], capture_output=True, text=True)
    assert passed.returncode == 0, passed.stdout


def test_a_tolerance_outside_0_to_1_is_refused():
    refused = subprocess.run(
        [sys.executable, str(BENCH.parent / "gates" / "ratios.py"), "--tolerance", "1.5", "--fresh", "x"],
        capture_output=True,
        text=True,
    )
    assert refused.returncode == 2 and "1.5 is not in (0, 1]" in refused.stderr


def test_a_quick_benchmark_run_never_writes_into_the_recorded_results():
    refused = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--output", str(RECORDED)], capture_output=True, text=True
    )
    assert refused.returncode == 2 and "never replaces recorded results" in refused.stderr
