"""One table from error kind to exit code: every entry names a real error class, the first match wins,
and an error that is not in it keeps its traceback."""

import importlib

import pytest
import typer
from pydantic import BaseModel, Field, ValidationError

from controller.cli.errors import EXIT_CODES, exit_code, message_of, reports_errors
from models.errors import InvalidInput, ModelNotFound


@pytest.mark.parametrize(("module", "name", "code"), EXIT_CODES, ids=[f"{m}.{n}" for m, n, _ in EXIT_CODES])
def test_every_entry_names_an_exception_class(module, name, code):
    kind = getattr(importlib.import_module(module), name)
    assert issubclass(kind, Exception) and code in (None, 1, 2)


class Body(BaseModel):
    count: int = Field(ge=1)


def invalid() -> ValidationError:
    try:
        Body(count=0)
    except ValidationError as e:
        return e
    raise AssertionError("Body(count=0) validated")


@pytest.mark.parametrize(
    ("error", "code"),
    [
        pytest.param(invalid(), 2, id="validation-error-is-a-usage-mistake"),
        pytest.param(ValueError("bad --steps"), 2, id="value-error-is-a-usage-mistake"),
        pytest.param(InvalidInput("bad rows"), InvalidInput.exit_code, id="model-error-has-its-own-code"),
        pytest.param(ModelNotFound("no such model"), ModelNotFound.exit_code, id="not-found"),
        pytest.param(TimeoutError("still running"), 1, id="timeout-failed"),
        pytest.param(KeyError("bug"), None, id="a-bug-is-not-reported"),
    ],
)
def test_exit_codes(error, code):
    assert exit_code(error) == code


def test_a_reported_error_is_one_line_and_its_code(capsys):
    @reports_errors
    def command():
        raise ValueError("steps must be increasing percentages")

    with pytest.raises(typer.Exit) as exited:
        command()
    assert exited.value.exit_code == 2
    assert "error: steps must be increasing percentages" in capsys.readouterr().err


def test_a_bug_keeps_its_traceback():
    @reports_errors
    def command():
        raise KeyError("missing")

    with pytest.raises(KeyError):
        command()


def test_pydantic_messages_lose_their_prefix():
    assert message_of(invalid()) == "Input should be greater than or equal to 1"
