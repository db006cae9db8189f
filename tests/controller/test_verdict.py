"""Verdicts and looks as rollout events record them: what is written reads back as the same values,
and records written before a field existed still read."""

import json
import math

import pytest

from controller.analysis.verdict import Look, Measurement, Outcome, Verdict, looks

TESTED = Measurement(
    "latency", Outcome.SUCCESSFUL, 1.1, 1.5, "latency 1.1", kind="judge", p_value=0.3, alpha=8.3e-4,
    low=-math.inf, high=math.inf, samples=120.0, needed=math.inf,
)  # fmt: skip
UNTESTED = Measurement("ks_reference", Outcome.INCONCLUSIVE, None, 0.1, "no data", kind="judge", alpha=1e-3)
CEILING = Measurement("p99_ms", Outcome.FAILED, 620.0, 500.0, "candidate p99 620 ms")
UNREACHABLE = Measurement("metrics", Outcome.ERROR, message="connection refused", kind="metrics")


def stored(event: dict) -> dict:
    """The event as the store gives it back: through JSON, which has no infinity."""
    return json.loads(json.dumps(event, allow_nan=False))


@pytest.mark.parametrize(
    "measurements",
    [
        pytest.param([TESTED, CEILING], id="unbounded-judge-and-ceiling"),
        pytest.param([UNTESTED], id="judge-without-traffic-keeps-nones"),
        pytest.param([UNREACHABLE], id="metrics-error"),
    ],
)
def test_a_look_reads_back_as_it_was_recorded(measurements):
    look = Look(Verdict.of(measurements), step=2, evidence_s=45.0, versions={"2": {"p99_ms": 3.5}})
    assert Look.of(stored(look.event(10.0))) == look


def test_infinities_are_written_null_and_read_as_infinities_only_where_a_judge_ran():
    detail = stored(Look(Verdict.of([TESTED, UNTESTED])).event(1.0))["detail"]
    assert [detail["measurements"][0][k] for k in ("low", "high", "needed")] == [None, None, None]
    tested, untested = Verdict.from_dict(detail).measurements
    assert (tested.low, tested.high, tested.needed) == (-math.inf, math.inf, math.inf)
    assert (untested.low, untested.high, untested.needed) == (None, None, None)


def test_records_written_before_judges_and_look_details_still_read():
    event = {
        "ts": 5.0, "kind": "verdict", "name": "Failed",
        "detail": {"outcome": "Failed", "measurements": [
            {"name": "p99_ms", "outcome": "Failed", "value": 9.0, "threshold": 5.0, "message": "slow"},
        ]},
    }  # fmt: skip
    look = Look.of(event)
    assert look == Look(Verdict(Outcome.FAILED, (Measurement("p99_ms", Outcome.FAILED, 9.0, 5.0, "slow"),)))
    assert look.verdict.failed("ceiling") == list(look.verdict.measurements)


def test_looks_are_the_verdict_events_in_order():
    first, second = Look(Verdict.of([CEILING]), step=0), Look(Verdict.of([UNREACHABLE]), step=1)
    decision = {"ts": 2.0, "kind": "decision", "name": "hold", "detail": {}}
    events = [stored(first.event(1.0)), decision, stored(second.event(3.0))]
    assert looks(events) == [first, second]
