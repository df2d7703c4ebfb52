"""The results folder of a run: a new run needs an empty one, ``--resume`` one made with the same settings."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from graphpool.experiment import atomic_json
from graphpool.experiment.distributed import is_main
from graphpool.experiment.files import changed_settings, read_json

RUN_FILE = "run.json"
#: what run.json records beside the settings: the versions a run started and was resumed under
_RECORDS = frozenset({"versions", "resumed_under"})
#: how a run is watched or shared out between jobs, not what it computes
_NOT_SETTINGS = frozenset({"quiet", "resume", "device", "out", "only_folds", "option_defaults"})


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    """Every option that decides a run's results, as JSON values (what ``run.json`` stores)."""
    return json.loads(json.dumps({k: v for k, v in sorted(vars(args).items()) if k not in _NOT_SETTINGS}))


def data_fingerprint(graphs: Sequence[Any]) -> dict[str, Any]:
    """What identifies the data a run trained on: the graph count and a SHA-256 of every graph's tensors.

    The hash covers each graph's attributes that are tensors (features, edges, labels, positions, ...)
    in a fixed order, so a changed target, cell or bond gives another fingerprint.
    """
    digest = hashlib.sha256()
    for graph in graphs:
        for key in sorted(graph.keys()):
            value = graph[key]
            if isinstance(value, torch.Tensor):
                digest.update(key.encode())
                digest.update(str(value.dtype).encode() + str(tuple(value.shape)).encode())
                digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    return {"graphs": len(graphs), "sha256": digest.hexdigest()}


def check_out_parent(out: Path) -> None:
    """Refuse an ``--out`` that cannot become a folder: its nearest existing ancestor is a file, or is not writable
    (checked before any work; nothing is created)."""
    ancestor = out
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if ancestor != out and not ancestor.is_dir():
        raise SystemExit(f"--out {out}: {ancestor} is a file, not a folder")
    if ancestor.is_dir() and not os.access(ancestor, os.W_OK):
        raise SystemExit(f"--out {out}: {ancestor} is not writable")


def open_out(args: argparse.Namespace, graphs: Sequence[Any] = ()) -> Path:
    """Check ``--out`` (and ``--resume``) before anything is written, then record the run's settings.

    A new run needs an empty or missing folder. ``--resume`` needs the folder of an earlier run
    whose stored settings (``run.json``) equal this call's, on the same data (:func:`data_fingerprint`
    of ``graphs``): a resumed run with other settings or data would finish with folds trained under
    both, so it is refused, listing the differences. A job of ``--only-folds`` joins the run in ``--out``
    the same way when there is one (the jobs of an array start in any order), and starts it otherwise.
    Call it after every other check.
    """
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise SystemExit(f"--out {out} is a file; give a folder for the results")
    check_out_parent(out)
    settings = {**_settings(args), "data": data_fingerprint(graphs), "versions": versions()}
    stored_path = out / RUN_FILE
    job = getattr(args, "only_folds", None) is not None
    defaults = getattr(args, "option_defaults", {})  # (set by graphpool.cli.main; a direct call has none)
    if args.resume:
        if not out.is_dir():
            raise SystemExit(f"--resume: nothing to resume, {out} does not exist; run without --resume to start")
        if not stored_path.is_file():
            raise SystemExit(
                f"--resume: {out} holds no {RUN_FILE}, so the settings it was run with cannot be checked; "
                "start again in another --out"
            )
        _keep_versions(_check_stored(out, settings, "--resume", defaults), settings, out, "--resume")
    elif job and stored_path.is_file():  # a job of an array joins the run another job started
        _keep_versions(_check_stored(out, settings, "--only-folds", defaults), settings, out, "--only-folds")
    elif (
        is_main()
        and out.is_dir()
        and (held := sorted(p.name for p in out.iterdir() if not (job and _run_file(p.name))))
    ):
        if stored_path.is_file():
            raise SystemExit(f"{out} already holds results: pass --resume to continue that run, or another --out")
        shown = ", ".join(held[:3]) + (f" and {len(held) - 3} more" if len(held) > 3 else "")
        raise SystemExit(
            f"{out} holds other files ({shown}), not a graphpool run: a new run needs an empty or new folder; "
            "pass another --out"
        )
    if is_main():
        atomic_json(stored_path, settings)
        if job:  # a job that started at the same moment, with other settings, wrote its own
            _check_stored(out, settings, "--only-folds")
    return out


def _run_file(name: str) -> bool:
    """``run.json`` or one of its temporary files (:func:`~graphpool.experiment.atomic_write`): what a job of
    ``--only-folds`` that started at the same moment may have written so far."""
    return name == RUN_FILE or name.startswith(f".{RUN_FILE}.")


def write_record(out: Path, args: argparse.Namespace) -> None:
    """``out/run.json``: the options that decide a run's results and the versions that computed them (for a
    command without ``--resume``, whose folder :func:`open_out` does not keep)."""
    atomic_json(out / RUN_FILE, {**_settings(args), "versions": versions()})


def versions() -> dict[str, str]:
    """The versions of graphpool, torch and PyG that compute a run (``run.json`` records them). graphpool's is its
    ``__version__`` (the package is imported whenever its command line is; a source tree run without installing
    it has no package metadata to read)."""
    import torch_geometric

    return {
        "graphpool": sys.modules["graphpool"].__version__,
        "torch": torch.__version__,
        "torch_geometric": torch_geometric.__version__,
    }


def _keep_versions(stored: dict[str, Any], settings: dict[str, Any], out: Path, option: str) -> None:
    """Keep in ``settings`` the versions the run in ``out`` (its ``run.json``: ``stored``) started under; where these
    differ, warn (its folds will hold two versions' roundings, or results) and add them to ``resumed_under``."""
    now, started = settings["versions"], stored.get("versions")
    later = stored.get("resumed_under", [])
    if started is not None and started != now:
        changed = [f"{name} {started.get(name)}" for name in now if started.get(name) != now[name]]
        going = [f"{name} {now[name]}" for name in now if started.get(name) != now[name]]
        warnings.warn(
            f"{option}: {out} was started under {', '.join(changed)}; it goes on under {', '.join(going)}: the folds "
            "trained before and after may differ by the changes between them",
            UserWarning,
            stacklevel=2,
        )
        later = later if now in later else [*later, now]
    settings["versions"] = started or now
    if later:
        settings["resumed_under"] = later


def _check_stored(
    out: Path, settings: dict[str, Any], option: str, defaults: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Refuse to continue the run in ``out`` when its ``run.json`` holds other data or settings than ``settings``;
    returns what ``run.json`` holds.

    A setting its ``run.json`` lacks (an option added to graphpool since the run started) counts as unchanged
    when it is at its default (``defaults``: the subcommand's), which is the behaviour the run had.
    """
    record = read_json(out / RUN_FILE, dict)
    stored = {k: v for k, v in record.items() if k not in _RECORDS}
    settings = {k: v for k, v in settings.items() if k not in _RECORDS}
    for name, value in json.loads(json.dumps(defaults or {})).items():  # (as JSON values, as run.json holds them)
        if name not in stored and name in settings and settings[name] == value:
            stored[name] = value
    if stored.get("data") != settings["data"]:
        was, now = stored.get("data") or {}, settings["data"]
        raise SystemExit(
            f"{option}: the data differ from the run's ({was.get('graphs')} graphs, sha256 "
            f"{str(was.get('sha256'))[:12]}... stored vs {now['graphs']} graphs, {now['sha256'][:12]}... now); "
            "resume on the data it started with, or start a new run in another --out"
        )
    differences = [
        f"--{name.replace('_', '-')}: {old!r} (stored) vs {now!r} (now)"
        for name, old, now in changed_settings(stored, settings)
    ]
    if differences:
        raise SystemExit(
            f"{option}: {out} was run with other settings: {'; '.join(differences)}. "
            "Resume with the stored settings, or start a new run in another --out"
        )
    return record
