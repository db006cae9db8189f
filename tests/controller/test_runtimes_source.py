"""Another local runtime as a target: its own state folder, and its own metrics."""

import pytest

from controller.settings import ControllerSettings
from controller.sources.runtimes import RuntimeScrape, by_target
from controller.sources.spec import SourceUnavailable
from controller.targets import local
from controller.targets.spec import TargetRef
from runtime.settings import RuntimeSettings


class Source:
    name = "default"


def test_only_a_target_naming_another_runtime_gets_its_own_source(tmp_path):
    default = Source()
    source = by_target(default, RuntimeSettings(state_dir=tmp_path / "main"))
    assert source(TargetRef()) is default
    assert source(TargetRef(kind="kuberay", namespace="ml", rayservice="fraud")) is default
    staging = source(TargetRef(home=str(tmp_path / "staging")))
    assert isinstance(staging, RuntimeScrape) and source(TargetRef(home=str(tmp_path / "staging"))) is staging


def test_a_runtime_not_started_is_unavailable_saying_how_to_start_it(tmp_path):
    scrape = RuntimeScrape(RuntimeSettings(state_dir=tmp_path / "staging"))
    with pytest.raises(SourceUnavailable, match=f"RAYNOMALY_HOME={tmp_path / 'staging'} raynomaly up"):
        scrape.snapshot("fraud")


def test_the_local_target_reads_the_runtime_its_home_names(tmp_path):
    settings = ControllerSettings(runtime=RuntimeSettings(state_dir=tmp_path / "main"))
    assert local.build(TargetRef(), settings)._settings.state_dir == tmp_path / "main"
    other = local.build(TargetRef(home=str(tmp_path / "staging")), settings)
    assert other._settings.state_dir == tmp_path / "staging"
    assert other._settings.store == settings.runtime.store  # one model store: the same versions
    assert str(TargetRef(home="/srv/staging")) == "local:/srv/staging"


def test_home_belongs_to_the_local_target():
    with pytest.raises(ValueError, match="home names another local runtime"):
        TargetRef(kind="kuberay", namespace="ml", rayservice="fraud", home="/x")
