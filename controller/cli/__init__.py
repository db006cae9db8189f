"""The `raynomaly` command line: the one composition root of the product.

Every command group is a module of this package; each imports what its commands need when they run,
so `raynomaly --help` or `rollout status` loads neither Ray, SciPy, matplotlib nor the kubernetes
client. Errors are reported through one table (`controller/cli/errors.py`).
"""

import typer

from controller.cli import batch, history, kuberay, loadtest, models, monitor, promotions, rollouts, runtime

app = typer.Typer(
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    help="raynomaly: serve anomaly-detection models on Ray Serve and roll out new versions safely.",
)
history.register(models.app)
app.add_typer(models.app, name="models")
app.add_typer(batch.app, name="batch")
runtime.register(app)
rollouts.register(app)
kuberay.register(app)
loadtest.register(app)
monitor.register(app)
promotions.register(app)


def main() -> None:
    """Console-script entry point."""
    app()
