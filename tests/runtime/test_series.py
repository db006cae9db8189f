"""The metric contract: what the runtime registers and records is what `runtime.series` says, and
the contract is cheap for the controller to import."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from ray.util.metrics import Counter, Metric

from runtime import series
from runtime.metrics import GatewayMetrics, ScorerMetrics

ROOT = Path(__file__).resolve().parents[2]


class RecordingTally:
    """Keeps every increment instead of adding it to Ray's counters."""

    def __init__(self):
        self.added: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = []

    def add(self, counter, value, keys, values) -> None:
        self.added.append((counter.info["name"], keys, values))


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
