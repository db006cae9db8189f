"""The metric contract: what the runtime registers and records is what `runtime.series` says, and
the contract is cheap for the controller to import."""

import asyncio
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from ray.util.metrics import Counter, Metric

from models.drift import FEATURE_BINS
from runtime import series
from runtime.metrics import GatewayMetrics, ScorerMetrics, Tally

ROOT = Path(__file__).resolve().parents[2]


class RecordingTally:
    """Keeps every increment instead of adding it to Ray's counters."""

    def __init__(self):
        self.added: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = []

    def add(self, counter, value, keys, values) -> None:
        self.added.append((counter.info["name"], keys, values))

    def add_block(self, counter, keys, prefix, cells, counts) -> None:
        self.added += [(counter.info["name"], keys, (*prefix, *cell)) for cell in cells]


def registered(*recorders) -> dict[str, dict]:
    """The Ray metrics the recorders hold, by name."""
    return {
        m.info["name"]: m.info | {"kind": "counter" if isinstance(m, Counter) else "histogram"}
        for recorder in recorders
        for m in vars(recorder).values()
        if isinstance(m, Metric)
    }


def test_the_exporter_registers_exactly_the_contract():
    metrics = registered(ScorerMetrics(RecordingTally()), GatewayMetrics(RecordingTally()))

    assert set(metrics) == {s.name for s in series.EXPORTED}
    for contract in series.EXPORTED:
        metric = metrics[contract.name]
        assert (metric["kind"], metric["tag_keys"], metric["description"]) == (
            contract.kind, contract.labels, contract.description,
        )  # fmt: skip
        assert tuple(metric.get("boundaries", ())) == contract.buckets


def test_recorded_labels_and_values_are_the_contracts():
    tally = RecordingTally()
    scorer, gateway = ScorerMetrics(tally), GatewayMetrics(tally)
    scorer.record("fraud", 2, "canary", np.array([0.01, 0.5, 0.97, 1.0]), np.array([0, 0, 1, 1]))
    for outcome in (series.OK, series.CLIENT_ERROR, series.SERVER_ERROR):
        gateway.record("fraud", 2, "canary", outcome, 1.0)
    gateway.record_agreement("fraud", 3, agree=4, disagree=1)
    gateway.record_dropped("fraud", 3)
    cells = tuple(("amount", bucket) for bucket in series.FEATURE_BUCKET_NAMES)
    scorer.record_features("fraud", 2, "canary", cells, np.ones(len(cells)))
    scorer.record_issues("fraud", 2, (("amount", series.OUT_OF_RANGE),), np.array([3]))
    gateway.record_issues("fraud", 2, {("amount", series.MISSING): 1, ("hour", series.NON_FINITE): 2})

    by_name, values = {s.name: s for s in series.EXPORTED}, {}
    for name, keys, recorded in tally.added:
        assert keys == by_name[name].labels
        for key, value in zip(keys, recorded, strict=True):
            values.setdefault((name, key), set()).add(value)
    outcomes = {series.OK, series.CLIENT_ERROR, series.SERVER_ERROR}
    assert values[(series.REQUESTS.name, series.OUTCOME)] == outcomes
    assert values[(series.AGREEMENTS.name, series.AGREEMENT)] == {series.AGREE, series.DISAGREE}
    assert values[(series.PERCENTILES.name, series.BUCKET)] == {"0.05", "0.50", "1.00"}
    assert values[(series.PERCENTILES.name, series.BUCKET)] <= set(series.BUCKET_NAMES)
    assert values[(series.FEATURE_ROWS.name, series.BUCKET)] == set(series.FEATURE_BUCKET_NAMES)
    assert values[(series.FEATURE_ISSUES.name, series.ISSUE)] == {
        series.OUT_OF_RANGE,
        series.MISSING,
        series.NON_FINITE,
    }


class CounterDouble:
    def __init__(self):
        self.increments: list[tuple[float, dict]] = []

    def inc(self, value, tags) -> None:
        self.increments.append((value, tags))


def test_blocks_of_counts_are_summed_and_flushed_one_increment_per_non_zero_cell():
    tally, counter = Tally(), CounterDouble()
    keys, cells = ("model", "feature", "bucket"), (("a", "0"), ("a", "1"), ("b", "0"))
    tally.add_block(counter, keys, ("fraud",), cells, np.array([1, 0, 2]))  # no event loop: flushed
    assert counter.increments == [
        (1.0, {"model": "fraud", "feature": "a", "bucket": "0"}),
        (2.0, {"model": "fraud", "feature": "b", "bucket": "0"}),
    ]

    async def two_batches():
        tally.add_block(counter, keys, ("fraud",), cells, np.array([1, 0, 2]))
        tally.add_block(counter, keys, ("fraud",), cells, np.array([0, 4, 1]))
        tally.flush()

    counter.increments.clear()
    asyncio.run(two_batches())
    assert [value for value, _ in counter.increments] == [1.0, 4.0, 3.0]


def test_the_exported_bins_are_the_ones_training_records():
    assert series.FEATURE_BIN_COUNT == FEATURE_BINS


@pytest.mark.parametrize(
    ("contract", "samples"),
    [
        pytest.param(series.REQUESTS, ("ray_raynomaly_requests_total",), id="counter"),
        pytest.param(
            series.LATENCY,
            ("ray_raynomaly_request_latency_ms_bucket", "ray_raynomaly_request_latency_ms_sum",
             "ray_raynomaly_request_latency_ms_count"),
            id="histogram",
        ),
    ],
)  # fmt: skip
def test_sample_names_are_as_ray_exports_them(contract, samples):
    assert contract.samples == samples
    assert contract.sample == samples[0]


def test_twenty_percentile_buckets_of_five_percent():
    assert series.BUCKET_NAMES[0] == "0.05" and series.BUCKET_NAMES[-1] == "1.00"
    assert np.allclose(np.diff(series.PERCENTILE_EDGES), 0.05) and len(series.PERCENTILE_EDGES) == 20


def heavy_imports(module: str) -> set[str]:
    """The heavy packages importing `module` loads, in a fresh interpreter."""
    code = f"import sys, {module}; print(*{{'ray', 'numpy', 'prometheus_client'}} & set(sys.modules))"
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(run.stdout.split())


def test_the_contract_imports_nothing_heavy_and_the_analysis_no_ray():
    assert heavy_imports("runtime.series") == set()
    assert "ray" not in heavy_imports("controller.analysis.window")
