"""`raynomaly monitor`: each serving version's input drift per feature, data-quality issues and
score drift over a window; the figures (pure), then the command against a stand-in metrics export
whose counters grow between its two scrapes."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from typer.testing import CliRunner

from controller.analysis.window import VersionWindow
from controller.cli import app
from controller.monitor import report
from models.store import ModelStore
from models.training import TrainRequest, train
from tests.tables import write_features

BINS = {"x": 10, "y": 10, "z": 10}


def served(rows: float, top: tuple[str, ...] = (), issues=None) -> VersionWindow:
    """Rows filling each feature's bins evenly, except the `top` features' rows, all in bin 9."""
    features = {f: ({"9": rows} if f in top else {str(b): rows / 10 for b in range(10)}) for f in BINS}
    return VersionWindow(
        rows=rows, percentiles=np.full(20, rows / 20), features=features, issues=issues or {}
    )


def test_the_report_flags_exactly_the_shifted_features_per_version():
    issues = {"x": {"out_of_range": 40.0}, "y": {"out_of_range": 2.0, "missing": 1.0}}
    windows = {1: served(1000), 2: served(1000, ("x", "y"), issues), 3: VersionWindow()}
    document = report("sensor", 30.0, windows, {1: BINS, 2: BINS, 3: BINS}, 0.2)
    assert [v["version"] for v in document["versions"]] == [1, 2]  # v3 scored nothing in the window
    stable, drifted = document["versions"]
    assert stable["drifted"] == [] and all(f["psi"] < 0.01 for f in stable["features"])
    assert drifted["drifted"] == ["x", "y"]
    by_feature = {f["feature"]: f for f in drifted["features"]}
    assert by_feature["x"]["psi"] > 0.2 and by_feature["x"]["ks"] == pytest.approx(0.9)
    assert by_feature["z"]["psi"] < 0.2 and not by_feature["z"]["drifted"]
    assert by_feature["y"]["issues"] == {"missing": 1.0, "out_of_range": 2.0}
    assert drifted["issues"] == {"missing": 1.0, "out_of_range": 42.0}
    assert drifted["score_psi"] == pytest.approx(0.0) and drifted["rows"] == 1000


def test_a_version_without_bins_reports_its_scores_only():
    document = report("sensor", 30.0, {1: served(100)}, {1: None})
    (version,) = document["versions"]
    assert version["features"] is None and version["drifted"] == [] and version["score_ks"] == 0.0


# The command, against a stand-in export and a store with one trained version


def exposition(scrape: int, features: list[str]) -> str:
    """Ray's export after `scrape` scrapes: 1000 more rows of v1 each time, x and y always in their
    top bin, the other features spread evenly, and 5 more rows out of x's training range."""
    lines = []
    for feature in features:
        for b in range(10):
            rows = (
                1000 * scrape
                if feature in ("x", "y") and b == 9
                else 0
                if feature in ("x", "y")
                else 100 * scrape
            )
            if rows:
                labels = f'model="sensor",version="1",role="stable",feature="{feature}",bucket="{b}"'
                lines.append(f"ray_raynomaly_feature_bin_rows_total{{{labels}}} {rows}")
    lines.append(
        'ray_raynomaly_feature_issue_rows_total{model="sensor",version="1",feature="x",issue="out_of_range"} '
        f"{5 * scrape}"
    )
    lines.append(
        f'ray_raynomaly_scored_rows_total{{model="sensor",version="1",role="stable"}} {1000 * scrape}'
    )
    for bucket in range(5, 101, 5):
        labels = f'model="sensor",version="1",role="stable",bucket="{bucket / 100:.2f}"'
        lines.append(f"ray_raynomaly_score_percentile_rows_total{{{labels}}} {50 * scrape}")
    return "\n".join(lines) + "\n"


@pytest.fixture
def export(monkeypatch, tmp_path):
    """A metrics export whose counters grow with every scrape, and a store with sensor v1."""
    features = ["x", "y", "z", "w"]
    X = np.random.default_rng(0).normal(size=(500, len(features)))
    write_features(tmp_path / "train.csv", X, features)
    store = ModelStore(str(tmp_path / "models"))
    train(TrainRequest("sensor", "iforest", str(tmp_path / "train.csv")), store)

    class Export(BaseHTTPRequestHandler):
        scrapes = 0

        def do_GET(self):
            Export.scrapes += 1
            body = exposition(Export.scrapes, features).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Export)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("RAYNOMALY_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("RAYNOMALY_STORE", store.uri)
    monkeypatch.setenv("RAYNOMALY_METRICS_URL", f"http://127.0.0.1:{server.server_address[1]}/metrics")
    monkeypatch.delenv("RAYNOMALY_PROMETHEUS_URL", raising=False)
    yield Export
    server.shutdown()
    thread.join()


def test_monitor_json_shows_the_window_between_two_scrapes(export):
    result = CliRunner().invoke(app, ["monitor", "sensor", "--window", "0.1s", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert export.scrapes == 2 and document["window_s"] == 0.1
    (version,) = document["versions"]
    assert version["version"] == 1 and version["rows"] == 1000 and version["drifted"] == ["x", "y"]
    psi = {f["feature"]: f["psi"] for f in version["features"]}
    assert psi["x"] > 0.2 and psi["y"] > 0.2 and psi["z"] < 0.2 and psi["w"] < 0.2
    assert version["issues"] == {"out_of_range": 5.0}


def test_monitor_prints_features_as_rows_with_the_drifted_ones_flagged(export):
    result = CliRunner().invoke(app, ["monitor", "sensor", "--window", "0s", "--threshold", "0.5"])
    assert result.exit_code == 0, result.output
    rows = {line.split("│")[1].strip(): line for line in result.stdout.splitlines() if line.count("│") > 2}
    assert "drifted (> 0.5)" in rows["x"] and "drifted" in rows["y"] and "drifted" not in rows["z"]
    assert "out_of_range 5" in rows["x"] and "sensor v1: 1000 rows" in result.stdout


def test_monitor_refuses_a_threshold_that_is_no_psi(export):
    result = CliRunner().invoke(app, ["monitor", "sensor", "--threshold", "0"])
    assert result.exit_code == 2 and "--threshold" in result.output and export.scrapes == 0
