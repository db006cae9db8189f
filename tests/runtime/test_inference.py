"""The gateway core against a faithful double of Serve deployment handles (no Ray needed)."""

import asyncio
import random

import numpy as np
import pytest

from runtime.codec import Rows
from runtime.errors import NotReady, TooLarge, UnknownModel, VersionNotDeployed
from runtime.inference import GatewayConfig, Inference
from runtime.traffic import ModelTraffic, TrafficTable


class Method:
    """`handle.method.remote(...)` -> an awaitable, like a DeploymentResponse."""

    def __init__(self, function):
        self.function = function

    def remote(self, *args):
        return asyncio.ensure_future(self.function(*args))


class ScorerDouble:
    """What a Scorer application answers, with controllable delays."""

    def __init__(self, version: int, delay_s: float = 0.0, describe_delay_s: float = 0.0):
        self.version, self.delay_s, self.describe_delay_s, self.calls = version, delay_s, describe_delay_s, []

        async def describe():
            await asyncio.sleep(self.describe_delay_s)
            return {"n_features": 2, "feature_names": ["a", "b"], "threshold": 0.5}

        async def score(matrix, role):
            self.calls.append((len(matrix), role))
            await asyncio.sleep(self.delay_s)
            scores = matrix.sum(axis=1) + self.version
            return scores, (scores > 0.5).astype(np.int8)

        self.describe, self.score = Method(describe), Method(score)


class MetricsDouble:
    """Records what the gateway would export."""

    def __init__(self):
        self.records = []
        self.dropped = []
        self.agreement = []
        self.shadow_dropped = type("Counter", (), {"inc": lambda _, value, tags: self.dropped.append(tags)})()

    def record(self, model, version, role, outcome, latency_ms):
        self.records.append((model, version, role, outcome))

    def record_agreement(self, model, version, agree, disagree):
        self.agreement.append((model, version, agree, disagree))


def gateway(scorers: dict[int, ScorerDouble], traffic: ModelTraffic, **limits):
    metrics = MetricsDouble()
    inference = Inference(lambda app: scorers[int(app.split("--v")[1])], metrics, random.Random(0))
    inference.configure(GatewayConfig(traffic=TrafficTable(models={"fraud": traffic}), **limits))
    return inference, metrics


def test_scores_come_from_the_routed_version_and_are_recorded():
    scorers = {1: ScorerDouble(1), 2: ScorerDouble(2)}
    inference, metrics = gateway(scorers, ModelTraffic(weights={1: 50, 2: 50}))

    async def run():
        return [await inference.predict("fraud", Rows.from_features([1.0, 2.0])) for _ in range(200)]

    answers = asyncio.run(run())
    assert all(a.scores[0] == 3.0 + a.version for a in answers)
    assert 60 < sum(a.version == 2 for a in answers) < 140
    assert {r[3] for r in metrics.records} == {"ok"} and len(metrics.records) == 200


def test_shadow_copies_never_change_the_answer_and_are_bounded():
    scorers = {1: ScorerDouble(1), 2: ScorerDouble(2, delay_s=0.05)}
    inference, metrics = gateway(
        scorers, ModelTraffic(weights={1: 100}, shadows={2: 100.0}), shadow_max_in_flight=3
    )

    async def run():
        answers = await asyncio.gather(
            *(inference.predict("fraud", Rows.from_features([0.0, 0.0])) for _ in range(10))
        )
        await asyncio.sleep(0.2)  # let the shadows finish
        return answers

    answers = asyncio.run(run())
    assert {a.version for a in answers} == {1}
    assert scorers[2].calls == [(1, "shadow")] * 3  # only three copies fit in flight
    assert len(metrics.dropped) == 7
    assert sum(1 for r in metrics.records if r[2] == "shadow") == 3


def test_shadow_labels_are_paired_with_the_answer_row_by_row():
    # version 1 scores sum+1, version 2 sum+2, threshold 0.5: rows summing to -1 disagree only
    scorers = {1: ScorerDouble(1), 2: ScorerDouble(2, delay_s=0.01)}
    inference, metrics = gateway(scorers, ModelTraffic(weights={1: 100}, shadows={2: 100.0}))
    rows = Rows.from_instances([[0.0, 0.0], [-0.5, -0.5], [-2.0, -2.0], [-1.0, 0.0]])

    async def run():
        await inference.predict("fraud", rows)
        await asyncio.sleep(0.1)

    asyncio.run(run())
    assert metrics.agreement == [("fraud", 2, 2, 2)]


def test_no_agreement_is_counted_when_the_answer_failed():
    scorers = {1: ScorerDouble(1), 2: ScorerDouble(2)}
    inference, metrics = gateway(scorers, ModelTraffic(weights={1: 100}, shadows={2: 100.0}))

    async def failing(matrix, role):
        raise RuntimeError("replica died")

    scorers[1].score = Method(failing)

    async def run():
        with pytest.raises(RuntimeError):
            await inference.predict("fraud", Rows.from_features([0.0, 0.0]))
        await asyncio.sleep(0.05)

    asyncio.run(run())
    assert metrics.agreement == []
    assert ("fraud", 2, "shadow", "ok") in metrics.records


@pytest.mark.parametrize(
    ("model", "pinned", "rows", "error", "message"),
    [
        pytest.param("churn", None, [[1.0, 2.0]], UnknownModel, "served models: fraud", id="unknown-model"),
        pytest.param(
            "fraud", "7", [[1.0, 2.0]], VersionNotDeployed, "deployed: \\[1\\]", id="pinned-not-deployed"
        ),
        pytest.param(
            "fraud", "latest", [[1.0, 2.0]], VersionNotDeployed, "not deployed", id="pinned-not-a-number"
        ),
        pytest.param(
            "fraud", None, [[1.0, 2.0]] * 11, TooLarge, "11 rows is over the limit of 10", id="too-many-rows"
        ),
    ],
)
def test_client_mistakes(model, pinned, rows, error, message):
    inference, metrics = gateway({1: ScorerDouble(1)}, ModelTraffic(weights={1: 100}), max_rows=10)
    with pytest.raises(error, match=message):
        asyncio.run(inference.predict(model, Rows.from_instances(rows), pinned))


def test_a_version_that_does_not_answer_is_not_ready(monkeypatch):
    monkeypatch.setattr("runtime.inference.DESCRIBE_TIMEOUT_S", 0.05)
    inference, metrics = gateway({1: ScorerDouble(1, describe_delay_s=1.0)}, ModelTraffic(weights={1: 100}))
    with pytest.raises(NotReady, match="not ready yet"):
        asyncio.run(inference.predict("fraud", Rows.from_features([1.0, 2.0])))
    assert metrics.records[-1][3] == "server_error"


def test_a_new_table_applies_to_the_next_request():
    scorers = {1: ScorerDouble(1), 2: ScorerDouble(2)}
    inference, _ = gateway(scorers, ModelTraffic(weights={1: 100, 2: 0}))
    before = asyncio.run(inference.predict("fraud", Rows.from_features([0.0, 0.0])))
    inference.configure(
        GatewayConfig(traffic=TrafficTable(models={"fraud": ModelTraffic(weights={1: 0, 2: 100})}))
    )
    after = asyncio.run(inference.predict("fraud", Rows.from_features([0.0, 0.0])))
    assert (before.version, after.version) == (1, 2)
