"""`raynomaly models keys ...`: the keyring that signs model versions and, when asked, encrypts
their files (`models.keys`): list its keys, create one and make it current.

The folder is `RAYNOMALY_KEYS_DIR`, else `keys/` in `RAYNOMALY_HOME` (`./.raynomaly`). Only key
ids are ever printed, never key material.
"""

from typing import Annotated

import typer
from rich.table import Table

from controller.cli.errors import reports_errors
from controller.cli.options import JsonOption, emit, out

app = typer.Typer(help="List the keys that sign (and encrypt) model versions; create a new one.")


def _listing(keyring) -> list[dict]:
    return [
        {"id": key_id, "signing": key_id == keyring.signing, "encryption": key_id == keyring.encryption}
        for key_id in keyring.keys
    ]


@app.callback(invoke_without_command=True)
@reports_errors
def list_command(context: typer.Context, as_json: JsonOption = False):
    """List the keys by id, and which are current for signing and for encryption."""
    if context.invoked_subcommand is not None:
        return
    from models import keys
    from models.settings import ModelSettings

    keyring = keys.load(ModelSettings.resolve().keys)
    rows = _listing(keyring)
    if as_json:
        emit({"folder": str(keyring.folder), "keys": rows})
        return
    if not rows:
        out.print(f"no keys in {keyring.folder}; the first publish creates a signing key")
        return
    table = Table("key", "current for", title=str(keyring.folder))
    for row in rows:
        current = [purpose for purpose in ("signing", "encryption") if row[purpose]]
        table.add_row(row["id"], ", ".join(current) or "-")
    out.print(table)
    if keyring.encryption is None:
        out.print("new versions are stored in the clear; 'raynomaly models keys new --encryption' encrypts")


@app.command("new")
@reports_errors
def new_command(
    encryption: Annotated[
        bool, typer.Option("--encryption", help="Make it current for encrypting artifact files instead.")
    ] = False,
    as_json: JsonOption = False,
):
    """Create a key and make it current for signing (or, with --encryption, for encrypting the files
    of every later version). Older keys stay, so the versions they signed or encrypted still load."""
    from models import keys
    from models.settings import ModelSettings

    keyring = keys.new_key(ModelSettings.resolve().keys, encryption=encryption)
    key_id = keyring.encryption if encryption else keyring.signing
    purpose = "encryption" if encryption else "signing"
    if as_json:
        emit({"folder": str(keyring.folder), "id": key_id, "current_for": purpose})
        return
    out.print(f"created key [bold]{key_id}[/] in {keyring.folder}, current for {purpose}")
