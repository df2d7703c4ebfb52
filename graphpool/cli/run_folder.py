"""The results folder of a run: a new run needs an empty one, ``--resume`` one made with the same settings."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from graphpool.experiment import atomic_json
from graphpool.experiment.distributed import is_main

RUN_FILE = "run.json"
_NOT_SETTINGS = frozenset({"quiet", "resume", "device", "out"})  # how a run is watched, not what it computes


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    """Every option that decides a run's results, as JSON values (what ``run.json`` stores)."""
    return json.loads(json.dumps({k: v for k, v in sorted(vars(args).items()) if k not in _NOT_SETTINGS}))


def open_out(args: argparse.Namespace) -> Path:
    """Check ``--out`` (and ``--resume``) before anything is written, then record the run's settings.

    A new run needs an empty or missing folder. ``--resume`` needs the folder of an earlier run
    whose stored settings (``run.json``) equal this call's: a resumed run with other settings
    would finish with folds trained under both, so it is refused, listing the differences.
    """
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise SystemExit(f"--out {out} is a file; give a folder for the results")
    settings = _settings(args)
    if args.resume:
        if not out.is_dir():
            raise SystemExit(f"--resume: nothing to resume, {out} does not exist; run without --resume to start")
        stored_path = out / RUN_FILE
        if not stored_path.is_file():
            raise SystemExit(
                f"--resume: {out} holds no {RUN_FILE}, so the settings it was run with cannot be checked; "
                "start again in another --out"
            )
        stored = json.loads(stored_path.read_text())
        differences = [
            f"--{name.replace('_', '-')}: {stored.get(name)!r} (stored) vs {settings.get(name)!r} (now)"
            for name in sorted(set(stored) | set(settings))
            if stored.get(name) != settings.get(name)
        ]
        if differences:
            raise SystemExit(
                f"--resume: {out} was run with other settings: {'; '.join(differences)}. "
                "Resume with the stored settings, or start a new run in another --out"
            )
    elif is_main() and out.is_dir() and any(out.iterdir()):
        raise SystemExit(f"{out} already holds results: pass --resume to continue that run, or another --out")
    if is_main():
        atomic_json(out / RUN_FILE, settings)
    return out
