"""The rollout report: a failed canary drawn as a PNG and as a self-contained HTML page."""

import base64
import io
import re

import matplotlib.image
import pytest

from controller.report import render
from controller.rollouts.spec import Rollout, RolloutSpec
from runtime.traffic import ModelTraffic

CREATED = 1_750_000_000.0
REASON = "p99_ratio 3.10, limit 1.5: candidate <script>alert(1)</script> is slower"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _traffic(weights: dict[str, int]) -> dict:
    return {"weights": weights, "shadows": {}, "stable": 1, "sticky_header": None}


def _decision(ts: float, name: str, phase: str, step: int, reason: str, weights: dict | None) -> dict:
    detail = {"phase": phase, "step": step, "reason": reason, "traffic": weights and _traffic(weights)}
    return {"ts": CREATED + ts, "kind": "decision", "name": name, "detail": detail}


def _verdict(
    ts: float, outcome: str, step: int, p99_ratio: float | None, candidate_p99: float | None
) -> dict:
    failed = outcome == "Failed"
    measurements = [
        {"name": "p99_ms", "outcome": "Successful", "value": candidate_p99, "threshold": 500.0, "message": "",
         "kind": "ceiling"},
        {"name": "p99_ratio", "outcome": outcome, "value": p99_ratio, "threshold": 1.5, "message": "p99",
         "kind": "judge", "p_value": 1e-4 if failed else 0.4, "alpha": 8.3e-4, "low": 2.2 if failed else 0.5,
         "high": None, "samples": 400.0, "needed": 900.0},
        {"name": "ks_reference", "outcome": "Successful", "value": 0.04, "threshold": 0.1, "message": "",
         "kind": "judge", "p_value": 1.0, "alpha": 8.3e-4, "low": 0.0, "high": 0.09, "samples": 4000.0,
         "needed": 600.0},
        {"name": "p50_ratio", "outcome": "Inconclusive", "value": None, "threshold": 1.5, "message": "",
         "kind": "judge", "p_value": None, "alpha": 8.3e-4, "low": None, "high": None, "samples": 0.0,
         "needed": None},
    ]  # fmt: skip
    versions = {
        "1": {"requests": 420.0, "p50_ms": 3.2, "p99_ms": 9.8, "error_rate": 0.0, "rows": 8400.0,
              "anomaly_rate": 0.1, "psi_reference": 0.02},
        "2": {"requests": 50.0, "p50_ms": None, "p99_ms": candidate_p99, "error_rate": None, "rows": None,
              "anomaly_rate": None, "psi_reference": None},
    }  # fmt: skip
    detail = {"outcome": outcome, "measurements": measurements, "step": step, "versions": versions}
    return {"ts": CREATED + ts, "kind": "verdict", "name": outcome, "detail": detail}


def _rollout(
    phase: str = "RolledBack", step: int = 1, reason: str = REASON, weights: dict | None = None
) -> dict:
    traffic = ModelTraffic(weights=weights or {1: 100, 2: 0}, stable=1)
    spec = RolloutSpec(model="fraud", candidate=2, canary={"steps": [10, 50, 100]}, interval_s=30)
    record = Rollout(
        spec=spec, stable=1, phase=phase, step=step, traffic=traffic, reason=reason,
        created=CREATED, updated=CREATED + 75.0,
    )  # fmt: skip
    return record.model_dump(mode="json")


@pytest.fixture
def failed_canary() -> tuple[dict, list[dict]]:
    """A canary at 10% that passes, moves to 50%, fails on p99 latency and rolls back."""
    events = [
        _decision(1.0, "start", "Progressing", 0, "canary step 1: 10%", {"1": 90, "2": 10}),
        _verdict(31.0, "Successful", 0, 1.1, 10.5),
        _decision(31.0, "advance", "Progressing", 1, "canary step 2: 50%", {"1": 50, "2": 50}),
        _verdict(61.0, "Failed", 1, 3.1, 30.4),
        _decision(61.0, "rollback", "RolledBack", 1, REASON, {"1": 100, "2": 0}),
    ]
    return _rollout(), events


def test_png_is_a_decodable_figure(tmp_path, failed_canary):
    output = render(*failed_canary, tmp_path / "canary.png")

    data = output.read_bytes()
    assert output == tmp_path / "canary.png"
    assert data.startswith(PNG_MAGIC)
    assert len(data) > 10_000
    image = matplotlib.image.imread(io.BytesIO(data), format="png")
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    assert list(tmp_path.iterdir()) == [output]


def test_html_embeds_the_figure_and_tables(tmp_path, failed_canary):
    page = render(*failed_canary, tmp_path / "canary.html").read_text()

    embedded = re.search(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert embedded is not None
    assert base64.b64decode(embedded.group(1)).startswith(PNG_MAGIC)
    assert "fraud: v1 -&gt; v2 (canary) — RolledBack" in page
    assert "p99_ratio=3.1 [2.2, inf] p=0.0001/0.00083 vs 1.5: Failed" in page  # stored null: unbounded
    assert "ks_reference=0.04 [0, 0.09] p=1/0.00083 vs 0.1: Successful" in page
    assert "p50_ratio=— vs 1.5: Inconclusive" in page
    assert "canary step 2: 50%" in page
    assert "+61.0 s" in page
    assert "candidate &lt;script&gt;alert(1)&lt;/script&gt; is slower" in page
    assert "<script>" not in page


def test_unknown_suffix_names_the_choices(tmp_path, failed_canary):
    with pytest.raises(ValueError, match=r"use \.html or \.png"):
        render(*failed_canary, tmp_path / "canary.pdf")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("suffix", [".png", ".html"])
def test_a_rollout_without_events_still_renders(tmp_path, suffix):
    rollout = _rollout(phase="Pending", step=-1, reason="")
    rollout["traffic"] = None

    output = render(rollout, [], tmp_path / f"new{suffix}")

    assert output.stat().st_size > 1000
    if suffix == ".html":
        assert output.read_text().count("none yet") == 2


def test_missing_values_a_removed_model_and_mathtext_do_not_crash(tmp_path):
    rollout = _rollout(phase="Aborted", reason="aborted by an operator")
    rollout["stable"] = None
    rollout["spec"]["model"] = "fraud_$x^{"
    empty = _verdict(31.0, "Error", 0, None, None)
    empty["detail"]["measurements"] = [
        {"name": "metrics", "outcome": "Error", "value": None, "threshold": None, "message": "source down"}
    ]
    empty["detail"]["versions"] = {"2": None}
    events = [
        _decision(1.0, "start", "Progressing", 0, "canary step 1: 10%", {"1": 90, "2": 10}),
        empty,
        _decision(40.0, "abort", "Aborted", 0, "aborted", None),
    ]

    page = render(rollout, events, tmp_path / "aborted.html").read_text()

    assert "fraud_$x^{: nothing -&gt; v2 (canary) — Aborted" in page
    assert "metrics=— vs —: Error" in page
