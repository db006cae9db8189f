"""The `raynomaly` command line."""

import typer

from controller import batch_cli, kuberay_cli, loadtest_cli, rollout_cli
from controller.companion import ControllerCompanion
from models.cli import app as models_app
from runtime.cli import register as register_runtime

app = typer.Typer(
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    help="raynomaly: serve anomaly-detection models on Ray Serve and roll out new versions safely.",
)
app.add_typer(models_app, name="models")
app.add_typer(batch_cli.app, name="batch")
register_runtime(app, companions=[ControllerCompanion()])
rollout_cli.register(app)
kuberay_cli.register(app)
loadtest_cli.register(app)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
