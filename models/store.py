"""The versioned model store: `<store>/<model>/<version>/manifest.json` plus the artifact.

Versions are integers, increasing per model, and immutable. Publishing writes the version
aside (`.staging-*`) and renames it into place under a per-model lock, so readers see a whole
version or none, and concurrent publishers get distinct versions. Every version is signed with
the keyring's current signing key, and its files are encrypted when the keyring has a current
encryption key (`models.keys`, `models.signature`, `models.envelope`). Reading verifies the
manifest's seal and signature and every file's sha256 (after decrypting it, in memory) and refuses
a tampered, unsigned or half-written version, naming the file.
The store is a local folder or any fsspec URI; renames are atomic only on local disks, and the
lock serialises publishers on one host (object stores: one publishing host per model). On a local
disk the store is its owner's alone: folders it creates are 0700 and files 0600, whatever the umask.
Deleting a version renames it aside (`.deleting-*`) under the same lock before removing it, so a
reader sees the version whole or not at all; deleting a model's last version removes its folder.
"""

import hashlib
import os
import re
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import fsspec
from fsspec.implementations.local import LocalFileSystem
from pydantic import ValidationError

from models import envelope, keys, signature
from models.errors import IntegrityError, InvalidSpec, ModelNotFound, SignatureMismatch, StoreWriteFailed
from models.manifest import Manifest
from models.settings import ModelSettings

MANIFEST = "manifest.json"
NAME = re.compile(r"^[a-z0-9](?:[a-z0-9]|-(?!-)){0,38}[a-z0-9]$|^[a-z0-9]$")
_FILE = re.compile(r"^[A-Za-z0-9_.-]+$")
_VERSION = re.compile(r"[0-9]+")  # ASCII digits: str.isdigit() also takes '²', which int() refuses


def check_name(model: str) -> str:
    """`model` if it is a valid model name (also a valid Serve app and Kubernetes name part)."""
    if not NAME.fullmatch(model):
        raise InvalidSpec(
            f"invalid model name {model!r}: use 1-40 lowercase letters, digits and single hyphens, "
            "starting and ending with a letter or digit"
        )
    return model


def parse_ref(ref: str) -> tuple[str, int | None]:
    """`name` or `name:version` -> (name, version or None for the latest)."""
    name, _, version = ref.partition(":")
    if version and not _VERSION.fullmatch(version):
        raise InvalidSpec(f"invalid model reference {ref!r}: use NAME or NAME:VERSION (an integer)")
    return check_name(name), int(version) if version else None


class ModelStore:
    """Model versions under one root URI, signed (and maybe encrypted) with the keys of a folder."""

    def __init__(
        self, uri: str, filesystem: fsspec.AbstractFileSystem | None = None, keys: Path | None = None
    ):
        """The store at `uri`, on the filesystem its scheme names (or `filesystem`, with `uri` as
        the root path on it), with the keyring in `keys` (default: `ModelSettings.resolve().keys`).
        The keyring is read on every use, so a key added to the folder (a rotation) counts at once."""
        self.uri = uri
        self.keys = keys if keys is not None else ModelSettings.resolve().keys
        if filesystem is None:
            self.fs, root = fsspec.url_to_fs(uri)
        else:
            self.fs, root = filesystem, uri
        self.root = root.rstrip("/")
        self.local = isinstance(self.fs, LocalFileSystem)

    def _path(self, *parts) -> str:
        return "/".join([self.root, *map(str, parts)])

    def models(self) -> list[str]:
        """Names of every model with at least one version directory."""
        if not self.fs.exists(self.root):
            return []
        names = [Path(p).name for p in self.fs.ls(self.root, detail=False)]
        return sorted(n for n in names if NAME.fullmatch(n) and self.versions(n))

    def versions(self, model: str) -> list[int]:
        """Published version numbers of `model`, ascending (complete or not)."""
        folder = self._path(check_name(model))
        if not self.fs.exists(folder):
            return []
        names = (Path(p).name for p in self.fs.ls(folder, detail=False))
        return sorted(int(n) for n in names if _VERSION.fullmatch(n))

    def resolve(self, model: str, version: int | None = None) -> int:
        """`version`, or the latest one; ModelNotFound if there is none."""
        versions = self.versions(model)
        if not versions:
            raise ModelNotFound(
                f"no model named {model!r} in {self.uri}; train one with 'raynomaly models train'"
            )
        if version is None:
            return versions[-1]
        if version not in versions:
            raise ModelNotFound(
                f"{model} has no version {version}; versions: {', '.join(map(str, versions))}"
            )
        return version

    def manifest(self, model: str, version: int | None = None) -> Manifest:
        """The sealed manifest of a version, its signature verified (artifacts are not read)."""
        return self._verified(model, version, keys.load(self.keys))

    def _sealed(self, model: str, version: int | None) -> tuple[Manifest, str]:
        """The manifest of a version, its seal checked but not its signature, and its path."""
        version = self.resolve(model, version)
        path = self._path(model, version, MANIFEST)
        if not self.fs.exists(path):
            raise IntegrityError(f"{path}: missing, the version is half-written; delete it or republish")
        try:
            manifest = Manifest.model_validate_json(self.fs.cat_file(path))
        except ValidationError as e:
            raise IntegrityError(f"{path}: not a valid manifest ({e.error_count()} error(s)): {e}") from e
        if (manifest.model, manifest.version) != (model, version):
            raise IntegrityError(f"{path}: describes {manifest.ref}, not {model}:{version}")
        return manifest.verify(path), path

    def _verified(self, model: str, version: int | None, keyring: keys.Keyring) -> Manifest:
        manifest, path = self._sealed(model, version)
        return signature.verify(manifest, keyring, path)

    def read(self, model: str, version: int | None = None) -> tuple[Manifest, dict[str, bytes]]:
        """The verified manifest and artifact files of a version (decrypted, in memory)."""
        keyring = keys.load(self.keys)
        manifest = self._verified(model, version, keyring)
        return manifest, self._files(manifest, keyring)

    def _files(self, manifest: Manifest, keyring: keys.Keyring) -> dict[str, bytes]:
        """The files of `manifest`, decrypted where encrypted, each checked against its sha256."""
        files = {}
        for name, expected in manifest.files.items():
            path = self._path(manifest.model, manifest.version, name)
            if not _FILE.fullmatch(name) or not self.fs.exists(path):
                raise IntegrityError(f"{path}: missing, the version is half-written; delete it or republish")
            data = self.fs.cat_file(path)
            if name in manifest.encrypted:
                bound_to = envelope.place(manifest.model, manifest.version, name)
                data = envelope.open_envelope(data, keyring, manifest.encrypted[name], bound_to, path)
            if hashlib.sha256(data).hexdigest() != expected:
                raise IntegrityError(f"{path}: sha256 mismatch, the file was modified; republish the version")
            files[name] = data
        return files

    def sign(self, model: str, version: int) -> tuple[Manifest, Manifest]:
        """Sign a version with the current signing key, after checking its seal and every file's
        sha256: how a version published before signatures (or signed by a retired key) is vouched
        for. SignatureMismatch if a key of the keyring signed something else: that version was
        modified after it was signed, and is never re-signed. Returns (before, after)."""
        model = check_name(model)
        keyring = keys.with_signing_key(self.keys)
        with self._lock(model):
            before, path = self._sealed(model, version)
            if before.signature is not None and keyring.get(before.signature.key) is not None:
                try:
                    signature.verify(before, keyring, path)
                except SignatureMismatch as e:
                    raise SignatureMismatch(f"{e}; it is not signed again") from None
            self._files(before, keyring)
            after = signature.sign(before, keyring.signing_key)
            staged = self._path(model, before.version, f".{MANIFEST}.{uuid.uuid4().hex}")
            try:
                self._write(staged, after.to_json().encode())
                self._rename(staged, path)
            except OSError as e:
                raise StoreWriteFailed(
                    f"cannot sign {before.ref} in {self.uri}: {e.strerror or e}; it is unchanged. Fix "
                    "the permissions and sign again"
                ) from e
            finally:
                if self.fs.exists(staged):
                    self.fs.rm(staged)
        return before, after

    def publish(self, draft: Manifest, files: dict[str, bytes]) -> Manifest:
        """Store `files` as the next version of `draft.model`, signed, and encrypted when the keyring
        has a current encryption key; returns the signed manifest."""
        model = check_name(draft.model)
        keyring = keys.with_signing_key(self.keys)
        cipher = keyring.encryption_key
        with self._lock(model):
            version = max((self.versions(model) or [0])[-1], self._retired(model)) + 1
            manifest = signature.sign(
                draft.model_copy(
                    update={
                        "version": version,
                        "files": {n: hashlib.sha256(d).hexdigest() for n, d in files.items()},
                        "encrypted": {n: cipher.id for n in files} if cipher else {},
                    }
                ),
                keyring.signing_key,
            )
            if cipher is not None:
                files = envelope.seal_files(cipher, model, version, files)
            staging = self._path(model, f".staging-{uuid.uuid4().hex}")
            try:
                self._makedirs(staging)
                for name, data in files.items():
                    self._write(f"{staging}/{name}", data)
                self._write(f"{staging}/{MANIFEST}", manifest.to_json().encode())
                self._rename(staging, self._path(model, version))
            except OSError as e:
                raise StoreWriteFailed(
                    f"cannot write {model} version {version} to {self.uri}: {e.strerror or e}; nothing was "
                    "published. Free space (or fix the permissions) and train again, or use another --store"
                ) from e
            finally:
                if self.fs.exists(staging):
                    self.fs.rm(staging, recursive=True)
        return manifest

    def delete(self, model: str, version: int) -> None:
        """Remove one version (whole or half-written) under the model's lock; ModelNotFound if it is
        not there, StoreWriteFailed (nothing deleted) if it cannot be moved aside. Whether anything
        still uses the version is the caller's to check."""
        model = check_name(model)
        with self._lock(model):
            self.resolve(model, version)  # under the lock: a version deleted meanwhile is not found
            doomed = self._path(model, f".deleting-{uuid.uuid4().hex}")
            try:
                self._write(self._path(f".{model}.retired"), str(max(self._retired(model), version)).encode())
                self._rename(self._path(model, version), doomed)
            except OSError as e:
                raise StoreWriteFailed(
                    f"cannot delete {model} version {version} from {self.uri}: {e.strerror or e}; nothing "
                    "was deleted. Fix the permissions and delete again"
                ) from e
            remains = doomed if self.versions(model) else self._path(model)  # the last: the model too
            try:
                self.fs.rm(remains, recursive=True)
            except OSError as e:
                raise StoreWriteFailed(
                    f"{model} version {version} is deleted, but its files remain in {remains}: "
                    f"{e.strerror or e}; remove that folder"
                ) from e

    def _retired(self, model: str) -> int:
        """The highest version of `model` ever deleted (0: none). Its number is never published again,
        so `fraud:3` in a rollout's history or the audit log means one set of weights for good."""
        path = self._path(f".{model}.retired")
        if not self.fs.exists(path):
            return 0
        text = self.fs.cat_file(path).decode(errors="replace").strip()
        if not _VERSION.fullmatch(text):
            raise IntegrityError(f"{path}: {text[:20]!r} is not a version number; restore it or remove it")
        return int(text)

    def _makedirs(self, path: str) -> None:
        """Create `path` and its missing parents (0700 on a local disk)."""
        missing = [f for f in (Path(path), *Path(path).parents) if not f.exists()] if self.local else []
        self.fs.makedirs(path, exist_ok=True)
        for folder in missing:
            folder.chmod(0o700)  # after the fact: mkdir's mode is masked by the umask

    def _write(self, path: str, data: bytes) -> None:
        """Write a file (0600 on a local disk). It is written in a fresh 0700 staging folder, where
        no one else can open it before its mode is set."""
        self.fs.pipe_file(path, data)
        if self.local:
            os.chmod(path, 0o600)

    def _rename(self, source: str, target: str) -> None:
        if self.local:
            Path(source).rename(target)  # atomic on one filesystem; fails if target exists
        else:
            self.fs.mv(source, target, recursive=True)

    @contextmanager
    def _lock(self, model: str) -> Iterator[None]:
        """Hold the model's publishing lock; StoreWriteFailed if it cannot be had. A local lock file
        that is a symbolic link is refused, never followed (following it would create or truncate
        whatever it points to)."""
        from filelock import FileLock  # only publishers lock: readers never import it

        if self.local:
            # Beside the model's folder, not in it: deleting the last version removes the folder,
            # and a lock file removed while others wait on it would let two holders in.
            path = self._path(f".{model}.lock")
        else:
            key = hashlib.sha256(f"{self.uri}/{model}".encode()).hexdigest()[:16]
            path = str(Path(tempfile.gettempdir()) / f"raynomaly-store-{key}.lock")
        try:
            if self.local:
                self._makedirs(self.root)
            if Path(path).is_symlink():
                raise StoreWriteFailed(
                    f"{path} is a symbolic link, not the store's lock file; it is never followed. "
                    "Remove it and publish again"
                )
            lock = FileLock(path, mode=0o600)
            lock.acquire()  # opens without following links (O_NOFOLLOW): a link made meanwhile fails here
        except OSError as e:
            raise StoreWriteFailed(
                f"cannot lock {model} in {self.uri} ({path}): {e.strerror or e}; nothing was published. "
                "Fix the permissions (or remove what stands at the lock's path) and publish again"
            ) from e
        try:
            yield
        finally:
            lock.release()
