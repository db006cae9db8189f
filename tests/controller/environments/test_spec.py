"""The environments file: parsed once, every mistake named with its environment and key."""

import pytest

from controller.environments.spec import DEFAULT_FILE, load

GOOD = """
environments:
  dev:
    rollout: {shadow: {steps: [50, 100]}, interval_s: 5}
  staging:
    target: {kind: local, home: /srv/raynomaly-staging}
    upstream: dev
    soak: 10m
  production:
    target: {kind: kuberay, namespace: ml, rayservice: fraud}
    upstream: staging
    soak: 1h
    approval: {role: approver, four_eyes: true}
    rollout: {canary: {steps: [5, 25, 100]}, thresholds: {max_error_rate: 0.01}}
"""


def test_a_file_declares_the_chain(tmp_path):
    path = tmp_path / "environments.yaml"
    path.write_text(GOOD)
    environments = load(path)
    assert list(environments.environments) == ["dev", "staging", "production"]
    production = environments.get("production")
    assert (production.upstream, production.soak, production.approval.four_eyes) == ("staging", 3600.0, True)
    assert str(production.target) == "kuberay:ml/fraud"
    assert environments.get("staging").target.home == "/srv/raynomaly-staging"
    assert environments.upstream_of(production).name == "staging"
    spec = production.spec("fraud", 3)
    assert (spec.candidate, spec.strategy, spec.canary.steps) == (3, "canary", [5, 25, 100])
    assert spec.thresholds.max_error_rate == 0.01 and spec.target == production.target
    assert environments.get("dev").spec("fraud", 3).strategy == "shadow"
    assert environments.source == str(path)


def test_without_a_file_dev_and_production_share_the_local_runtime(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    environments = load()
    dev, production = environments.get("dev"), environments.get("production")
    assert (environments.source, dev.upstream, production.upstream) == ("built-in defaults", None, "dev")
    assert dev.spec("demo", 2).strategy == "shadow" and production.spec("demo", 2).strategy == "canary"
    assert production.approval.role == "approver" and production.approval.four_eyes


def test_the_working_folders_file_is_read_by_default(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    DEFAULT_FILE.write_text("environments:\n  only: {}\n")
    assert list(load().environments) == ["only"]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        pytest.param("environments:\n  prod: {upstream: qa}\n", "upstream 'qa' is not an environment",
                     id="unknown-upstream"),
        pytest.param("environments:\n  a: {upstream: b}\n  b: {upstream: a}\n", "go round in a circle",
                     id="cycle"),
        pytest.param("environments:\n  a: {upstream: a}\n", "go round in a circle", id="own-upstream"),
        pytest.param("environments:\n  a: {approval: {role: viewer}}\n", "approval role 'viewer'",
                     id="weak-approver"),
        pytest.param("environments:\n  a: {approval: {role: boss}}\n", "approval role 'boss'",
                     id="unknown-role"),
        pytest.param("environments:\n  a: {rollout: {canary: {steps: [50, 10]}}}\n", "environments.a",
                     id="bad-rollout-defaults"),
        pytest.param("environments:\n  a: {rollout: {candidate: 3}}\n", "cannot be set here",
                     id="rollout-names-the-candidate"),
        pytest.param("environments:\n  a: {rollout: {target: {kind: local}}}\n", "cannot be set here",
                     id="rollout-names-a-target"),
        pytest.param("environments:\n  a: {soak: soon}\n", "duration 'soon'", id="bad-soak"),
        pytest.param("environments:\n  a: {soak: -5}\n", "soak", id="negative-soak"),
        pytest.param("environments:\n  a: {colour: red}\n", "colour", id="unknown-key"),
        pytest.param("environments:\n  Prod: {}\n", "not an environment name", id="bad-name"),
        pytest.param("environments:\n  a: {target: {kind: kuberay, home: /x}}\n", "home",
                     id="home-on-kuberay"),
        pytest.param("environments: {}\n", "declare at least one", id="none"),
        pytest.param("- dev\n", "expected a mapping", id="not-a-mapping"),
        pytest.param("environments: [\n", "is not YAML", id="not-yaml"),
    ],
)  # fmt: skip
def test_mistakes_are_named(tmp_path, text, says):
    path = tmp_path / "environments.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match="environments.yaml") as raised:
        load(path)
    assert says in str(raised.value)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(ValueError, match="cannot read the environments file .*nope.yaml"):
        load(tmp_path / "nope.yaml")
