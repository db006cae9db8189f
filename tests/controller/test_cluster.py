"""Cluster changes (pure): the upgrade strategy KubeRay gets, and parsing them at the CLI edge."""

import pytest

from controller.targets.cluster import ClusterChange, IncrementalUpgrade


def test_a_plain_change_is_a_new_cluster_switched_to_at_once():
    assert ClusterChange(image="raynomaly:1.1").upgrade_strategy() == {"type": "NewCluster"}


def test_incremental_options_parse_from_the_cli_form():
    options = IncrementalUpgrade.parse("step=20,interval=30,gateway=istio,surge=50")
    assert options == IncrementalUpgrade(
        step_size_percent=20, interval_seconds=30, gateway_class_name="istio", max_surge_percent=50
    )
    strategy = ClusterChange(image="raynomaly:1.1", incremental=options).upgrade_strategy()
    assert strategy["type"] == "NewClusterWithIncrementalUpgrade"
    assert strategy["clusterUpgradeOptions"]["stepSizePercent"] == 20


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("step=20,interval=30", "gateway_class_name", id="gateway-missing"),
        pytest.param("step=200,interval=30,gateway=istio", "less than or equal to 100", id="step-over-100"),
        pytest.param("steps=20", "use step=PERCENT", id="unknown-key"),
    ],
)
def test_bad_incremental_options_name_the_problem(text, message):
    with pytest.raises(ValueError, match=message):
        IncrementalUpgrade.parse(text)


@pytest.mark.parametrize("image", ["", "raynomaly 1.1"])
def test_an_image_must_be_a_reference(image):
    with pytest.raises(ValueError, match="container image reference"):
        ClusterChange(image=image)
