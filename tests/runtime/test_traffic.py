"""Routing as a truth table: weights, pins, sticky keys, mirrors and roles."""

import pytest
from pydantic import ValidationError

from runtime.traffic import CANARY, SHADOW, STABLE, ModelTraffic, bucket, parse_assignments, route

CANARY_10 = ModelTraffic(weights={1: 90, 2: 10}, shadows={3: 25.0})


@pytest.mark.parametrize(
    ("draw", "mirror_draw", "pinned", "sticky", "version", "role", "mirrors"),
    [
        pytest.param(0.0, 99.0, None, None, 1, STABLE, (), id="low-draw-goes-stable"),
        pytest.param(89.99, 99.0, None, None, 1, STABLE, (), id="just-below-cumulative-90"),
        pytest.param(90.0, 99.0, None, None, 2, CANARY, (), id="at-90-goes-canary"),
        pytest.param(99.99, 99.0, None, None, 2, CANARY, (), id="top-of-range-canary"),
        pytest.param(50.0, 10.0, None, None, 1, STABLE, (3,), id="mirror-draw-under-percent-mirrors"),
        pytest.param(50.0, 25.0, None, None, 1, STABLE, (), id="mirror-draw-at-percent-does-not"),
        pytest.param(0.0, 99.0, 2, None, 2, CANARY, (), id="pin-overrides-draw"),
        pytest.param(0.0, 0.0, 3, None, 3, SHADOW, (), id="pin-to-shadow-is-not-mirrored-to-itself"),
    ],
)
def test_route(draw, mirror_draw, pinned, sticky, version, role, mirrors):
    chosen = route(CANARY_10, draw, mirror_draw, pinned, sticky)
    assert (chosen.version, chosen.role, chosen.mirrors) == (version, role, mirrors)


def test_sticky_key_ignores_the_draw_and_splits_by_weight():
    keys = [f"user-{i}" for i in range(4000)]
    chosen = {k: route(CANARY_10, 0.0, 99.0, sticky=k).version for k in keys}
    assert all(route(CANARY_10, 99.0, 99.0, sticky=k).version == chosen[k] for k in keys[:200])
    share = sum(v == 2 for v in chosen.values()) / len(keys)
    assert 0.08 < share < 0.12  # 10% +- 5 standard deviations of a binomial share at n=4000
    assert 0 <= bucket("anything") < 100


def test_zero_weight_versions_are_deployed_but_never_drawn():
    traffic = ModelTraffic(weights={1: 100, 2: 0})
    assert traffic.versions == [1, 2]
    assert {route(traffic, d, 99.0).version for d in (0.0, 50.0, 99.999)} == {1}
    assert route(traffic, 0.0, 99.0, pinned=2).role == CANARY


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"weights": {1: 50, 2: 40}}, "must sum to 100, got 90", id="sum"),
        pytest.param({"weights": {}}, "at least one version", id="empty"),
        pytest.param({"weights": {1: 150, 2: -50}}, "between 0 and 100", id="range"),
        pytest.param({"weights": {1: 100}, "shadows": {2: 0.0}}, r"in \(0, 100\]", id="shadow-percent"),
        pytest.param({"weights": {1: 100}, "stable": 2}, "stable version 2 is not deployed", id="stable"),
    ],
)
def test_invalid_tables_are_refused(kwargs, message):
    with pytest.raises(ValidationError, match=message):
        ModelTraffic(**kwargs)


def test_explicit_stable_and_default_stable():
    assert ModelTraffic(weights={1: 50, 2: 50}).role(1) == STABLE
    assert ModelTraffic(weights={1: 50, 2: 50}, stable=2).role(1) == CANARY


def test_parse_assignments():
    assert parse_assignments(["1=90", "2=10"], "weight") == {1: 90.0, 2: 10.0}
    with pytest.raises(ValueError, match="use VERSION=WEIGHT"):
        parse_assignments(["latest=100"], "weight")
    with pytest.raises(ValueError, match="use VERSION=PERCENT"):
        parse_assignments(["2"], "percent")
