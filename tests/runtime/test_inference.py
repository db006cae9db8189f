"""The gateway core with its placements replaced by doubles (no Ray needed): routing, shadows,
client mistakes, and tables that take effect only once every version they name is ready."""

import asyncio
import random

import numpy as np
import pytest

from models.errors import InvalidInput
from runtime.codec import Rows
from runtime.desired import Batching, DeployedVersion, GatewayConfig, ScorerOptions
from runtime.errors import BadRequest, TooLarge, UnknownModel, VersionNotDeployed, http_status
from runtime.inference import Inference
from runtime.placement import Unavailable
from runtime.traffic import ModelTraffic, TrafficTable
from runtime.version import Description


class ScorerDouble:
    """A ready version: scores rows as their sum plus the version number, with a controllable delay."""

    def __init__(self, version: int, delay_s: float = 0.0):
        self.version, self.delay_s, self.calls, self.batching = version, delay_s, [], None
        self.input_drift = True
        self.description = Description("fraud", version, 2, ["a", "b"], 0.5, "cpu")

    async def score(self, matrix, role):
        self.calls.append((len(matrix), role))
        await asyncio.sleep(self.delay_s)
        scores = matrix.sum(axis=1) + self.version
        return scores, (scores > 0.5).astype(np.int8)

    def configure(self, batching, input_drift=True):
        self.batching, self.input_drift = batching, input_drift


class Placements:
    """Both placements, handing out the doubles and counting loads; `slow_s` delays loading and
    versions in `broken` cannot be loaded."""

    def __init__(self, scorers: dict[int, ScorerDouble]):
        self.scorers, self.loads, self.slow_s, self.broken = scorers, [], 0.0, set()

    async def place(self, version: DeployedVersion, store: str, context) -> ScorerDouble:
        await asyncio.sleep(self.slow_s)
        if version.version in self.broken:
            raise Unavailable(f"fraud:{version.version} cannot be loaded inline: sha256 mismatch")
        self.loads.append((version.version, version.options.effective_placement))
        return self.scorers[version.version]

    def registry(self) -> dict:
        return {"inline": self.place, "dedicated": self.place}


class MetricsDouble:
    """Records what the gateway would export."""

    def __init__(self):
        self.records, self.dropped, self.agreement, self.refused = [], [], [], []
        self.issues: list[tuple[str, int, dict]] = []

    def record(self, model, version, role, outcome, latency_ms):
        self.records.append((model, version, role, outcome))

    def record_dropped(self, model, version):
        self.dropped.append((model, version))

    def record_agreement(self, model, version, agree, disagree):
        self.agreement.append((model, version, agree, disagree))

    def record_refused(self, reason):
        self.refused.append(reason)

    def record_issues(self, model, version, issues):
        self.issues.append((model, version, issues))


def config(traffic: ModelTraffic, options: dict[int, ScorerOptions] | None = None, **limits) -> GatewayConfig:
    versions = [DeployedVersion(model="fraud", version=v, options=(options or {}).get(v, ScorerOptions()))
                for v in traffic.versions]  # fmt: skip
    return GatewayConfig(
        traffic=TrafficTable(models={"fraud": traffic}), store="s", versions=versions, **limits
    )


def gateway(scorers: dict[int, ScorerDouble], traffic: ModelTraffic, **limits):
    metrics, placements = MetricsDouble(), Placements(scorers)
    inference = Inference(None, metrics, random.Random(0), placements.registry())
    asyncio.run(inference.configure(config(traffic, **limits)))
    return inference, metrics, placements


def test_scores_come_from_the_routed_version_and_are_recorded():
    scorers = {1: ScorerDouble(1), 2: ScorerDouble(2)}
    inference, metrics, _ = gateway(scorers, ModelTraffic(weights={1: 50, 2: 50}))

    async def run():
        return [await inference.predict("fraud", Rows.from_features([1.0, 2.0])) for _ in range(200)]

    answers = asyncio.run(run())
    assert all(a.scores[0] == 3.0 + a.version for a in answers)
    assert 60 < sum(a.version == 2 for a in answers) < 140
    assert {r[3] for r in metrics.records} == {"ok"} and len(metrics.records) == 200


def test_shadow_copies_never_change_the_answer_and_are_bounded():
    scorers = {1: ScorerDouble(1), 2: ScorerDouble(2, delay_s=0.05)}
    inference, metrics, _ = gateway(
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


def test_a_shadow_is_scored_only_after_the_answer():
    scorers = {1: ScorerDouble(1, delay_s=0.05), 2: ScorerDouble(2)}
    inference, metrics, _ = gateway(scorers, ModelTraffic(weights={1: 100}, shadows={2: 100.0}))

    async def run():
        task = asyncio.ensure_future(inference.predict("fraud", Rows.from_features([0.0, 0.0])))
        await asyncio.sleep(0.02)
        during = list(scorers[2].calls)
        await task
        await asyncio.sleep(0.01)
        return during

    assert asyncio.run(run()) == [] and scorers[2].calls == [(1, "shadow")]


def test_shadow_labels_are_paired_with_the_answer_row_by_row():
    # version 1 scores sum+1, version 2 sum+2, threshold 0.5: rows summing to -1 disagree only
    scorers = {1: ScorerDouble(1), 2: ScorerDouble(2, delay_s=0.01)}
    inference, metrics, _ = gateway(scorers, ModelTraffic(weights={1: 100}, shadows={2: 100.0}))
    rows = Rows.from_instances([[0.0, 0.0], [-0.5, -0.5], [-2.0, -2.0], [-1.0, 0.0]])

    async def run():
        await inference.predict("fraud", rows)
        await asyncio.sleep(0.1)

    asyncio.run(run())
    assert metrics.agreement == [("fraud", 2, 2, 2)]


def test_no_agreement_is_counted_when_the_answer_failed():
    scorers = {1: ScorerDouble(1), 2: ScorerDouble(2)}
    inference, metrics, _ = gateway(scorers, ModelTraffic(weights={1: 100}, shadows={2: 100.0}))

    async def failing(matrix, role):
        raise RuntimeError("replica died")

    scorers[1].score = failing

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
            "fraud", "\u00b2", [[1.0, 2.0]], VersionNotDeployed, "not deployed", id="pinned-superscript"
        ),
        pytest.param(
            "fraud", None, [[1.0, 2.0]] * 11, TooLarge, "11 rows is over the limit of 10", id="too-many-rows"
        ),
    ],
)
def test_client_mistakes(model, pinned, rows, error, message):
    inference, metrics, _ = gateway({1: ScorerDouble(1)}, ModelTraffic(weights={1: 100}), max_rows=10)
    with pytest.raises(error, match=message):
        asyncio.run(inference.predict(model, Rows.from_instances(rows), pinned))


def test_a_new_table_takes_effect_only_once_its_versions_are_loaded():
    scorers = {1: ScorerDouble(1), 2: ScorerDouble(2)}
    inference, _, placements = gateway(scorers, ModelTraffic(weights={1: 100}))
    placements.slow_s = 0.1

    async def run():
        loading = asyncio.ensure_future(inference.configure(config(ModelTraffic(weights={1: 0, 2: 100}))))
        during = [await inference.predict("fraud", Rows.from_features([0.0, 0.0])) for _ in range(20)]
        await loading
        after = await inference.predict("fraud", Rows.from_features([0.0, 0.0]))
        return {a.version for a in during}, after.version

    assert asyncio.run(run()) == ({1}, 2)
    assert placements.loads == [(1, "inline"), (2, "inline")]  # version 1 kept, not loaded again


def test_versions_are_dropped_when_no_longer_named_and_replaced_when_their_placement_changes():
    scorers = {1: ScorerDouble(1), 2: ScorerDouble(2)}
    inference, _, placements = gateway(scorers, ModelTraffic(weights={1: 50, 2: 50}))
    asyncio.run(inference.configure(config(ModelTraffic(weights={1: 100}))))
    with pytest.raises(VersionNotDeployed, match="version 2 is no longer served"):
        inference.scorer("fraud", 2)
    batching = Batching(max_batch_size=16)
    asyncio.run(
        inference.configure(config(ModelTraffic(weights={1: 100}), {1: ScorerOptions(batching=batching)}))
    )
    assert scorers[1].batching == batching  # batching changes in place
    dedicated = ScorerOptions(placement="dedicated")
    asyncio.run(inference.configure(config(ModelTraffic(weights={1: 100}), {1: dedicated})))
    assert placements.loads == [(1, "inline"), (2, "inline"), (1, "dedicated")]


def test_a_version_that_cannot_be_loaded_leaves_the_old_table_serving():
    scorers = {1: ScorerDouble(1), 2: ScorerDouble(2)}
    inference, _, placements = gateway(scorers, ModelTraffic(weights={1: 100}))
    placements.broken = {2}
    with pytest.raises(Unavailable, match="sha256 mismatch"):
        asyncio.run(inference.configure(config(ModelTraffic(weights={1: 50, 2: 50}))))
    answer = asyncio.run(inference.predict("fraud", Rows.from_features([0.0, 0.0])))
    assert answer.version == 1 and inference.config.traffic.models["fraud"].weights == {1: 100}


def test_the_gateway_config_refuses_tables_it_cannot_serve():
    with pytest.raises(ValueError, match="routes fraud to versions it does not place: \\[2\\]"):
        GatewayConfig(traffic=TrafficTable(models={"fraud": ModelTraffic(weights={2: 100})}))
    with pytest.raises(ValueError, match="3 inline versions, over max_inline_versions 2"):
        config(ModelTraffic(weights={1: 50, 2: 50}, shadows={3: 10.0}), max_inline_versions=2)


def _hostile_rows() -> dict:
    import io

    import pyarrow as pa

    def arrow(table):
        sink = io.BytesIO()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        return Rows.from_binary(sink.getvalue(), "application/vnd.apache.arrow.stream", 10, 2**20)

    return {
        "arrow-int64-max": lambda: arrow(pa.table({"a": [2**63 - 1], "b": [1]})),
        "arrow-repeated-column": lambda: arrow(pa.Table.from_arrays([pa.array([1.0])] * 2, names=["a", "a"])),
        "arrow-unknown-columns": lambda: arrow(pa.table({"x": [1.0], "y": [2.0]})),
        "json-boolean": lambda: Rows.from_features([True, 1.0]),
        "json-string": lambda: Rows.from_instances([[1.0, "2"]]),
    }


@pytest.mark.parametrize("make", _hostile_rows().values(), ids=_hostile_rows().keys())
def test_hostile_rows_pinned_to_a_canary_never_count_as_its_server_errors(make):
    inference, metrics, _ = gateway(
        {1: ScorerDouble(1), 2: ScorerDouble(2)}, ModelTraffic(weights={1: 90, 2: 10})
    )

    async def run():
        rows = make()  # refused here (the adapters answer 400) or when the routed version reads them
        await inference.predict("fraud", rows, "2")

    with pytest.raises((BadRequest, InvalidInput)) as refused:
        asyncio.run(run())
    assert 400 <= http_status(refused.value) < 500
    assert all(outcome != "server_error" for *_, outcome in metrics.records)


def test_an_unexpected_failure_reading_rows_is_the_requests_not_the_versions():
    class Unreadable:
        num_rows = 1

        @property
        def column_names(self):
            raise KeyError("a case the checks missed")

    inference, metrics, _ = gateway({1: ScorerDouble(1)}, ModelTraffic(weights={1: 100}))
    with pytest.raises(BadRequest, match="the rows could not be read: KeyError"):
        asyncio.run(inference.predict("fraud", Rows("table", Unreadable())))
    assert metrics.records == [("fraud", 1, "stable", "client_error")]


@pytest.mark.parametrize(
    ("rows", "issues"),
    [
        pytest.param(Rows("matrix", np.array([[np.nan, 1.0], [np.inf, -np.inf]])),
                     {("a", "non_finite"): 2, ("b", "non_finite"): 1}, id="npy-non-finite"),
        pytest.param(Rows.from_features({"b": 1.0}), {("a", "missing"): 1}, id="named-missing"),
        pytest.param(Rows.from_instances([[1.0]]), {}, id="wrong-width-blames-no-feature"),
    ],
)  # fmt: skip
def test_refused_rows_are_counted_by_feature_and_issue_then_refused_as_before(rows, issues):
    inference, metrics, _ = gateway({1: ScorerDouble(1)}, ModelTraffic(weights={1: 100}))
    with pytest.raises((BadRequest, InvalidInput)) as refused:
        asyncio.run(inference.predict("fraud", rows))
    with pytest.raises(type(refused.value)) as again:
        rows.matrix(["a", "b"])
    assert str(refused.value) == str(again.value)  # the same 400 as without counting
    assert metrics.issues == [("fraud", 1, issues)]
    assert metrics.records == [("fraud", 1, "stable", "client_error")]


def test_scored_rows_count_no_issues_and_input_drift_switches_in_place():
    scorers = {1: ScorerDouble(1)}
    inference, metrics, _ = gateway(scorers, ModelTraffic(weights={1: 100}))
    asyncio.run(inference.predict("fraud", Rows.from_features([1.0, 2.0])))
    assert metrics.issues == []
    off = {1: ScorerOptions(input_drift=False)}
    asyncio.run(inference.configure(config(ModelTraffic(weights={1: 100}), off)))
    assert scorers[1].input_drift is False
