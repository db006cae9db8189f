"""How the command line reports a failure: one line on stderr and an exit code, never a traceback.

One table maps every error kind the commands let through to its exit code (2: the caller's mistake,
1: something failed). It names each kind by module and class, so reporting imports nothing: an error
of a module that was never imported cannot have been raised.
"""

import functools
import sys

import typer
from pydantic import ValidationError
from rich.console import Console

USAGE, FAILED = 2, 1

EXIT_CODES: tuple[tuple[str, str, int | None], ...] = (
    ("models.errors", "ModelError", None),  # None: the error's own `exit_code`
    ("pydantic", "ValidationError", USAGE),  # before ValueError, which it is
    ("controller.kuberay.manifests", "ManifestError", USAGE),
    ("builtins", "ValueError", USAGE),
    ("runtime.cluster", "ClusterError", FAILED),
    ("runtime.terminator", "TerminatorError", FAILED),
    ("runtime.tracing", "TracingUnavailable", USAGE),
    ("runtime.serve_api", "ServeApiError", FAILED),
    ("runtime.serving", "DeployFailed", FAILED),
    ("runtime.batch.spec", "BatchFailed", FAILED),
    ("controller.client", "ControlApiError", FAILED),
    ("controller.client", "ControllerError", FAILED),
    ("controller.kuberay.errors", "KubeError", FAILED),
    ("runtime.conflict", "Conflict", FAILED),
    ("controller.loadtest.gate", "GateError", FAILED),
    ("builtins", "TimeoutError", FAILED),
)

err = Console(stderr=True)


def exit_code(error: BaseException) -> int | None:
    """The exit code of a reported error kind, None for one that is not (a bug: it keeps its traceback)."""
    for module, name, code in EXIT_CODES:
        kind = getattr(sys.modules.get(module), name, None)
        if kind is not None and isinstance(error, kind):
            return error.exit_code if code is None else code
    return None


def message_of(error: BaseException) -> str:
    """The user-facing text of an error (pydantic's without its "Value error, " prefixes)."""
    if isinstance(error, ValidationError):
        return "; ".join(e["msg"].removeprefix("Value error, ") for e in error.errors())
    return str(error)


def reports_errors(command):
    """Wrap a command: a reported error kind becomes one red line on stderr and its exit code."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except Exception as e:
            code = exit_code(e)
            if code is None:
                raise
            err.print(f"[bold red]error:[/] {message_of(e)}", highlight=False, soft_wrap=True)
            raise typer.Exit(code) from None

    return wrapper
