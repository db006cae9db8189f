"""`raynomaly models history`: asks the control API for the periods (with the environment and the
time given, `--at` read as unix seconds or ISO 8601) and shows them in UTC."""

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from typer.testing import CliRunner

from controller.cli import app
from controller.cli.history import parse_time, shown
from tests.controller.cli.standin import Handler, controller

runner = CliRunner()
PERIODS = [
    {"environment": "production", "version": 3, "from": 1718000000.0, "to": None, "known_from": 1718000000.0,
     "rollout": "b", "how": "canary, Progressing", "in_progress": True},
    {"environment": "production", "version": 2, "from": 1717000000.0, "to": None, "known_from": 1717000000.0,
     "rollout": "a", "how": "canary", "in_progress": False},
    {"environment": "production", "version": 1, "from": None, "to": 1717000000.0, "known_from": 1716000000.0,
     "rollout": None, "how": "before the records", "in_progress": False},
]  # fmt: skip


class _Controller(Handler):
    """Answers the periods, or with `at` the period holding it (404 before 1716000000)."""

    def do_GET(self):
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        self.server.received.append((url.path, query))
        if "at" not in query:
            return self.answer(200, PERIODS)
        if float(query["at"]) < 1716000000:
            return self.answer(404, {"detail": "the rollout records do not say"})
        self.answer(200, PERIODS[2])


@pytest.fixture
def requests(monkeypatch, tmp_path):
    with controller(_Controller, monkeypatch, tmp_path) as received:
        yield received


def test_history_is_a_table_in_utc(requests):
    result = runner.invoke(app, ["models", "history", "fraud", "--environment", "production"])
    assert result.exit_code == 0, result.output
    assert requests == [("/api/v1/models/fraud/history", {"environment": "production"})]
    for text in ("2024-06-10T06:13:20Z", "in progress", "before the records", "v1", "canary"):
        assert text in result.output


def test_at_is_sent_as_unix_seconds_and_json_is_the_answer(requests):
    flags = ["--environment", "production", "--at", "2024-05-18T02:40:00+00:00", "--json"]
    result = runner.invoke(app, ["models", "history", "fraud", *flags])
    assert result.exit_code == 0, result.output
    assert requests == [("/api/v1/models/fraud/history", {"environment": "production", "at": "1716000000.0"})]
    assert json.loads(result.stdout)["version"] == 1


@pytest.mark.parametrize(
    ("at", "code", "says"),
    [
        pytest.param("1000", 1, "error: the rollout records do not say (404)", id="api-refusal"),
        pytest.param("yesterday", 2, "give unix seconds (1718000000) or an ISO 8601 time", id="bad-time"),
    ],
)
def test_failures_are_one_line(requests, at, code, says):
    result = runner.invoke(app, ["models", "history", "fraud", "--environment", "production", "--at", at])
    assert result.exit_code == code and says in " ".join(result.output.split())


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        pytest.param("1718000000", 1718000000.0, id="unix-seconds"),
        pytest.param("1718000000.5", 1718000000.5, id="fractional-seconds"),
        pytest.param("2024-06-10T06:13:20Z", 1718000000.0, id="iso-utc"),
        pytest.param("2024-06-10T08:13:20+02:00", 1718000000.0, id="iso-with-offset"),
        pytest.param("2024-06-10T06:13:20", 1718000000.0, id="iso-naive-is-utc"),
    ],
)
def test_parse_time(text, seconds):
    assert parse_time(text) == seconds


def test_shown_is_utc_iso_or_what_stands_for_none():
    assert (shown(1718000000.0, "-"), shown(None, "now")) == ("2024-06-10T06:13:20Z", "now")
