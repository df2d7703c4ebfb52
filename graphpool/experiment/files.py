"""Files of a run: atomic writes (a reader or a resumed run never sees half a file), checked reads of JSON and
torch files (an error names the file and how to recover), safe file names."""

from __future__ import annotations

import json
import os
import pickle
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch


def changed_settings(stored: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """The settings that differ, as ``(name, stored value, new value)``; nested dicts compared key by key as
    ``part.key`` (one level). What a resume checks, for a run folder (``run.json``) and for each combination's
    folder (``config.json``)."""
    changed = []
    for part in sorted(set(stored) | set(new)):
        old, now = stored.get(part), new.get(part)
        if isinstance(old, dict) and isinstance(now, dict):
            keys = sorted(set(old) | set(now))
            changed += [(f"{part}.{key}", old.get(key), now.get(key)) for key in keys if old.get(key) != now.get(key)]
        elif old != now:
            changed.append((part, old, now))
    return changed


def atomic_write(path: Path, write: Callable[[Path], Any]) -> None:
    """Write via a temporary file in the same folder and ``os.replace``: readers never see half a file.

    The temporary file is created with mode ``0666`` (less the umask, applied by the system), so
    the result has the permissions of an ordinary new file, not ``mkstemp``'s ``0600``. The data
    is flushed to disk (``fsync``) before the rename and the folder after it, so the file
    survives a power cut, not only a killed process.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}"
    os.close(os.open(temporary, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
    try:
        write(temporary)
        _fsync(temporary)
        os.replace(temporary, path)
        _fsync(path.parent)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def _fsync(path: Path) -> None:
    """Flush a file's (or a folder's entries') data to disk."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def atomic_json(path: Path, value: Any) -> None:
    """Write ``value`` as indented JSON with :func:`atomic_write`."""
    atomic_write(path, lambda p: p.write_text(json.dumps(value, indent=1)))


#: what a run's file is to hold where it is not what graphpool wrote
RESTORE = "restore it, or delete it to have the run recompute what it held"


def read_json(path: Path, kind: type = object) -> Any:
    """The JSON value in ``path``, of type ``kind`` (``dict``: an object, ``list``: a list; ``object``: any).

    Raises a ``ValueError`` naming the file when it is not JSON or holds another kind of value (runs write theirs
    whole, with :func:`atomic_json`, so such a file was edited, cut short or replaced outside graphpool).
    """
    try:
        value = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON ({error}): {RESTORE}") from None
    if not isinstance(value, kind):
        found, wanted = _json_kind(type(value)), _json_kind(kind)
        raise ValueError(f"{path} holds {found} where graphpool writes {wanted}: {RESTORE}")  # noqa: TRY004 - a file's data
    return value


def atomic_torch_save(path: Path, value: Any) -> None:
    """``torch.save(value)`` to ``path`` with :func:`atomic_write`, through a file handle: torch names the records
    of its zip after the file it writes, which would be the temporary name, so the same ``value`` gives the same
    bytes every time."""

    def write(temporary: Path) -> None:
        with temporary.open("wb") as handle:
            torch.save(value, handle)

    atomic_write(path, write)


def read_torch_file(path: Path, remedy: str, device: torch.device | str = "cpu") -> Any:
    """``torch.load(path, weights_only=True)``; a ``ValueError`` names the file, what torch found, and ``remedy``
    where torch cannot read it (cut short, empty, or not a file ``torch.save`` wrote)."""
    try:
        return torch.load(path, map_location=device, weights_only=True)
    except RuntimeError as error:  # torch's messages name no file: "PytorchStreamReader failed reading zip archive"
        problem = str(error).strip().splitlines()[0]
    except (EOFError, pickle.UnpicklingError) as error:
        problem = f"torch.load: {type(error).__name__}"
    raise ValueError(f"{path} is not a file graphpool wrote ({problem}): {remedy}")


def _json_kind(kind: type) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(kind, "a number" if kind in (int, float) else kind.__name__)


def safe_name(name: Any) -> str:
    """``name`` as a file name, unique and reversible: letters, digits, ``-``, ``_`` and ``.`` kept, any other
    character percent-encoded (``urllib.parse.unquote`` gives the name back), so "patient 1", "patient_1" and
    "patient/1" are three files.

    >>> safe_name("patient 4/B")
    'patient%204%2FB'
    >>> safe_name("..")
    '%2E%2E'
    """
    from urllib.parse import quote

    text = quote(str(name), safe="-_.")
    return text.replace(".", "%2E") if set(text) <= {"."} else text  # "." and ".." name folders, not files
