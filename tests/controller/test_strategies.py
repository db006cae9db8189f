"""The strategy registry and what each strategy owns: its options and their checks, whether it
pairs or moves traffic, and how many of its steps are judged."""

import pytest
from pydantic import ValidationError

from controller.rollouts.spec import RolloutSpec
from controller.rollouts.strategies import STRATEGIES, strategy_for
from controller.targets.cluster import ClusterChange
from controller.targets.spec import TargetRef

KUBERAY = TargetRef(kind="kuberay", namespace="serving", rayservice="raynomaly")


def test_an_unknown_strategy_is_refused_listing_the_valid_ones():
    with pytest.raises(
        ValueError, match="unknown strategy 'big-bang'; choose one of canary, blue-green, shadow"
    ):
        strategy_for("big-bang")


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_every_strategy_has_its_options_field_in_the_spec(name):
    strategy = STRATEGIES[name]
    assert RolloutSpec.model_fields[strategy.field].annotation == strategy.options | None


@pytest.mark.parametrize(
    ("name", "pairs", "moves_traffic"),
    [
        pytest.param("canary", False, True, id="canary-splits-traffic"),
        pytest.param("blue-green", True, True, id="blue-green-mirrors-then-switches"),
        pytest.param("shadow", True, False, id="shadow-only-mirrors"),
        pytest.param("rolling", False, False, id="rolling-stays-in-place"),
        pytest.param("upgrade", False, False, id="upgrade-stays-in-place"),
    ],
)
def test_which_strategies_pair_answers_and_which_move_callers(name, pairs, moves_traffic):
    strategy = strategy_for(name)
    assert (strategy.pairs, strategy.moves_traffic) == (pairs, moves_traffic)


@pytest.mark.parametrize(
    ("fields", "judged"),
    [
        pytest.param({}, 2, id="canary-default-two-steps-before-100"),
        pytest.param({"canary": {"steps": [5, 10, 25, 50, 100]}}, 4, id="canary-four-steps"),
        pytest.param({"blue_green": {}}, 2, id="blue-green-before-and-after-the-switch"),
        pytest.param({"shadow": {"steps": [50]}}, 1, id="shadow-every-step"),
        pytest.param({"rolling": {}}, 1, id="rolling-once"),
        pytest.param({"upgrade": ClusterChange(image="x:1"), "target": KUBERAY}, 1, id="upgrade-once"),
    ],
)
def test_how_many_steps_each_strategy_judges(fields, judged):
    spec = RolloutSpec(model="fraud", candidate=2, **fields)
    assert strategy_for(spec.strategy).judged_steps(spec) == judged


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        pytest.param({"canary": {"steps": [10, 50]}}, "last step must be 100", id="canary-ends-below-100"),
        pytest.param({"canary": {"steps": [50, 10, 100]}}, "increasing", id="canary-steps-out-of-order"),
        pytest.param({"shadow": {"steps": []}}, "increasing", id="shadow-without-steps"),
        pytest.param({"shadow": {"steps": [10, 150]}}, r"\(0, 100\]", id="shadow-over-100"),
        pytest.param({"blue_green": {"shadow_percent": 0}}, "greater than 0", id="blue-green-mirrors-none"),
        pytest.param({"blue_green": {"steps": [10]}}, "blue_green.steps", id="blue-green-has-no-steps"),
        pytest.param({"rolling": {"steps": [10]}}, "rolling.steps", id="rolling-has-no-options"),
        pytest.param({"upgrade": {"image": "x:1"}}, "kuberay target only: use --target kuberay",
                     id="upgrade-needs-kuberay"),
        pytest.param({"upgrade": {}, "target": KUBERAY}, "upgrade.image", id="upgrade-needs-an-image"),
    ],
)  # fmt: skip
def test_each_strategy_checks_its_own_options(fields, says):
    with pytest.raises(ValidationError, match=says):
        RolloutSpec(model="fraud", candidate=2, **fields)
