"""The metric source of each target: the controller's own for its runtime and KubeRay, and a direct
scrape of another local runtime's Ray metrics for a target that names that runtime's `home` (its
series carry the same model and version labels, so they are never read through a shared source)."""

from collections.abc import Callable

from controller.sources.scrape import ScrapeSource
from controller.sources.spec import MetricSource, SourceUnavailable
from controller.targets.local import home_settings
from controller.targets.spec import TargetRef
from runtime.record import read_running
from runtime.settings import RuntimeSettings


class RuntimeScrape:
    """The Ray metrics of the local runtime recorded under `settings.state_dir`, found from its record
    at each snapshot (a restarted runtime may listen elsewhere)."""

    name = "scrape"

    def __init__(self, settings: RuntimeSettings):
        self._settings = settings
        self._scrapes: dict[str, ScrapeSource] = {}

    def snapshot(self, model: str):
        running = read_running(self._settings)
        if running is None:
            raise SourceUnavailable(
                f"no local runtime recorded in {self._settings.state_dir}: start it with "
                f"RAYNOMALY_HOME={self._settings.state_dir} raynomaly up"
            )
        url = f"http://127.0.0.1:{running[0].metrics_port}/metrics"
        return self._scrapes.setdefault(url, ScrapeSource(url)).snapshot(model)


def by_target(default: MetricSource, runtime: RuntimeSettings) -> Callable[[TargetRef], MetricSource]:
    """`default` for every target but another local runtime, which is scraped itself."""
    homes: dict[str, MetricSource] = {}

    def source(target: TargetRef) -> MetricSource:
        if target.home is None:
            return default
        return homes.setdefault(target.home, RuntimeScrape(home_settings(target, runtime)))

    return source
