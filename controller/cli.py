"""The `raynomaly` command line."""

import typer

from models.cli import app as models_app

app = typer.Typer(
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    help="raynomaly: serve anomaly-detection models on Ray Serve and roll out new versions safely.",
)
app.add_typer(models_app, name="models")


def main() -> None:
    """Console-script entry point."""
    app()
