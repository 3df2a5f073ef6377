"""Run directories: who owns one, which checkpoints in it may be resumed, and what a rerun keeps.

A training stage writes its checkpoints into a run directory (``runs/MODEL/PIPELINE``). Guarantees:

- one process owns a run directory at a time (a lock file beside it; a second one stops at once);
- the directory holds checkpoints of one set of inputs (``srlm_inputs.json``: the params the stage
  reads and the sha256 of its input files). Checkpoints of other inputs are never deleted: they move
  to ``RUN.stale/DIGEST`` and come back when the inputs match again;
- a checkpoint is resumed only when it is whole: each save is sealed (``srlm_checkpoint.json``, the
  sha256 of every file) and checked before resuming; one that fails moves to ``RUN.broken/`` and the
  newest good one is resumed, with a message saying which;
- a checkpoint at the end of the schedule is not trained further: a rerun saves it as the model;
- under ``torchrun`` only rank 0 takes the lock and claims; the other ranks wait for its claim of
  *this* launch (``.RUN.claim``, written after the quarantine), so none reads the directory while
  rank 0 is still moving checkpoints aside.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import struct
import time
from collections.abc import Iterator
from pathlib import Path

from ..config import Params, digest
from ..io import sha256_file, sha256_tree

RUN_INPUTS = "srlm_inputs.json"
SEAL = "srlm_checkpoint.json"


def _say(message: str) -> None:
    print(f"srlm: {message}", flush=True)


def _rank() -> int:
    return int(os.environ.get("RANK", "0"))


def launch_id() -> str:
    """This launch of the ranks, the same in each of its processes: torchrun's run id (a fresh
    uuid under ``--standalone``) and restart count, the rendezvous address and, when every rank is
    on this node, the launcher's pid (so also repeated launches with torchrun's static defaults
    differ)."""
    env = os.environ
    parts = [env.get(k, "") for k in ("TORCHELASTIC_RUN_ID", "TORCHELASTIC_RESTART_COUNT",
                                      "MASTER_ADDR", "MASTER_PORT")]
    if env.get("LOCAL_WORLD_SIZE", "1") == env.get("WORLD_SIZE", "1"):
        parts.append(str(os.getppid()))
    return "/".join(parts)


def _claim_file(run_dir: Path) -> Path:
    return run_dir.with_name(f".{run_dir.name}.claim")


def _read_claim(run_dir: Path) -> dict | None:
    try:
        return json.loads(_claim_file(run_dir).read_text())
    except (OSError, ValueError):
        return None


def _write_claim(run_dir: Path, fp: dict) -> None:
    tmp = _claim_file(run_dir).with_suffix(".claim.tmp")
    tmp.write_text(json.dumps({"launch": launch_id(), "inputs": fingerprint_id(fp)}) + "\n")
    os.replace(tmp, _claim_file(run_dir))


def _wait_for_claim(run_dir: Path, fp: dict, timeout_s: float = 600) -> None:
    """A rank > 0: return once rank 0 of this launch has claimed ``run_dir`` for these inputs."""
    deadline = time.time() + timeout_s
    while (claim := _read_claim(run_dir)) is None or claim.get("launch") != launch_id():
        if time.time() > deadline:
            raise RuntimeError(f"{run_dir}: rank 0 did not claim the run directory in {timeout_s:.0f} s")
        time.sleep(0.2)
    if claim.get("inputs") != fingerprint_id(fp) or _read_fingerprint(run_dir) != fp:
        raise RuntimeError(f"{run_dir}: rank 0 claimed it for other inputs or params than rank "
                           f"{_rank()} has (inputs {claim.get('inputs')}, not {fingerprint_id(fp)})")


def fingerprint(params: Params, sections: list[str], inputs: list[Path]) -> dict:
    """What a run directory's checkpoints were made from: params sections and input sha256s."""
    return {"params": digest(params, *sections), "inputs": {str(p): sha256_tree(p) for p in inputs}}


def fingerprint_id(fp: dict | None) -> str:
    if fp is None:
        return "unknown"
    return hashlib.sha1(json.dumps(fp, sort_keys=True).encode()).hexdigest()[:12]


@contextlib.contextmanager
def run_lock(run_dir: Path) -> Iterator[None]:
    """Own ``run_dir`` for the block; another process holding it is an error naming its pid."""
    import fcntl

    run_dir.parent.mkdir(parents=True, exist_ok=True)
    lock = run_dir.with_name(f".{run_dir.name}.lock")
    with open(lock, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            owner = fh.read().strip() or "?"
            raise RuntimeError(f"{run_dir} is in use by another srlm process (pid {owner}); "
                               "wait for it to finish, or stop it") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        try:
            yield
        finally:
            fh.seek(0)
            fh.truncate()
            fcntl.flock(fh, fcntl.LOCK_UN)


def _free_name(folder: Path, name: str) -> Path:
    dest, n = folder / name, 1
    while dest.exists():
        n += 1
        dest = folder / f"{name}-{n}"
    return dest


def _read_fingerprint(folder: Path) -> dict | None:
    try:
        return json.loads((folder / RUN_INPUTS).read_text())
    except (OSError, ValueError):
        return None


def _shelve(run_dir: Path, stale_root: Path) -> Path:
    """Move the whole run directory to ``RUN.stale/DIGEST`` (never deleting it)."""
    stale_root.mkdir(parents=True, exist_ok=True)
    dest = _free_name(stale_root, fingerprint_id(_read_fingerprint(run_dir)))
    run_dir.rename(dest)
    return dest


def _legacy_stale(stale_root: Path) -> None:
    """An older srlm kept one stale set as ``RUN.stale`` itself: file it under its digest."""
    if (stale_root / RUN_INPUTS).is_file() or any(stale_root.glob("checkpoint-*")):
        holding = stale_root.with_name(stale_root.name + ".moving")
        stale_root.rename(holding)
        stale_root.mkdir()
        holding.rename(stale_root / fingerprint_id(_read_fingerprint(holding)))


def _claim(run_dir: Path, fp: dict) -> None:
    stale_root = run_dir.with_name(run_dir.name + ".stale")
    if stale_root.is_dir():
        _legacy_stale(stale_root)
    if run_dir.is_dir() and any(run_dir.iterdir()) and _read_fingerprint(run_dir) != fp:
        dest = _shelve(run_dir, stale_root)
        _say(f"{run_dir} holds checkpoints made from other inputs or params; moved to {dest}")
    match = stale_root / fingerprint_id(fp)
    if not (run_dir.is_dir() and any(run_dir.iterdir())) and _read_fingerprint(match) == fp:
        if run_dir.is_dir():
            run_dir.rmdir()
        match.rename(run_dir)
        _say(f"{match} holds checkpoints of these inputs; moved back to {run_dir} to resume")
    run_dir.mkdir(parents=True, exist_ok=True)
    quarantine_broken(run_dir)
    (run_dir / RUN_INPUTS).write_text(json.dumps(fp, indent=1, sort_keys=True) + "\n")


@contextlib.contextmanager
def claim_run_dir(run_dir: Path, params: Params, sections: list[str],
                  inputs: list[Path]) -> Iterator[None]:
    """Own ``run_dir`` for the block and make it hold only checkpoints of these inputs.

    Under ``torchrun`` only rank 0 locks and claims (shelving, moving back, quarantining); the
    other ranks take no lock and wait for rank 0's claim of this launch (:func:`launch_id`).
    """
    fp = fingerprint(params, sections, inputs)
    if _rank():
        _wait_for_claim(run_dir, fp)
        yield
        return
    with run_lock(run_dir):
        _claim_file(run_dir).unlink(missing_ok=True)
        _claim(run_dir, fp)
        _write_claim(run_dir, fp)
        yield


def safetensors_whole(path: Path) -> bool:
    """Is a safetensors file as long as its own header says (not cut off)?"""
    try:
        with open(path, "rb") as fh:
            (length,) = struct.unpack("<Q", fh.read(8))
            header = json.loads(fh.read(length))
    except (OSError, ValueError, struct.error):
        return False
    end = max((t["data_offsets"][1] for k, t in header.items() if k != "__metadata__"), default=0)
    return path.stat().st_size == 8 + length + end


def seal(ckpt: Path) -> None:
    """Record the sha256 of every file of a just-saved checkpoint (its proof of being whole)."""
    files = {str(f.relative_to(ckpt)): sha256_file(f)
             for f in sorted(ckpt.rglob("*")) if f.is_file() and f.name != SEAL}
    tmp = ckpt / f".{SEAL}.tmp"
    tmp.write_text(json.dumps(files, indent=1) + "\n")
    os.replace(tmp, ckpt / SEAL)


def checkpoint_fault(ckpt: Path) -> str | None:
    """Why a checkpoint cannot be resumed, or None when it is whole."""
    try:
        json.loads((ckpt / "trainer_state.json").read_text())
    except (OSError, ValueError):
        return "no readable trainer_state.json (cut off while saving)"
    record = ckpt / SEAL
    if record.is_file():
        try:
            files = json.loads(record.read_text())
        except ValueError:
            return f"unreadable {SEAL}"
        for name, expected in files.items():
            if not (ckpt / name).is_file():
                return f"{name} is missing"
            if sha256_file(ckpt / name) != expected:
                return f"{name} differs from its sha256 at save time"
        return None
    for file in ckpt.rglob("*.safetensors"):  # an unsealed checkpoint (older srlm, or killed just
        if not safetensors_whole(file):          # after the save): its tensors must be whole
            return f"{file.name} is cut off"
    for file in [*ckpt.rglob("*.pt"), *ckpt.rglob("*.pth")]:  # and so must every rank's states
        if not torch_file_whole(file):
            return f"{file.relative_to(ckpt)} is cut off"
    return None


def torch_file_whole(path: Path) -> bool:
    """Is a ``torch.save`` file (a zip archive) whole? Its central directory, at the end, is read."""
    import zipfile

    try:
        with zipfile.ZipFile(path):
            return True
    except (OSError, zipfile.BadZipFile):
        return False


def _checkpoints(run_dir: Path) -> list[Path]:
    steps = [p for p in run_dir.glob("checkpoint-*") if p.name.rsplit("-", 1)[1].isdigit()]
    return sorted(steps, key=lambda p: int(p.name.rsplit("-", 1)[1]), reverse=True)


def quarantine_broken(run_dir: Path) -> None:
    """Move checkpoints that cannot be resumed (and Trainer temp folders) to ``RUN.broken/``."""
    broken = run_dir.with_name(run_dir.name + ".broken")
    debris = [p for p in run_dir.glob("tmp-checkpoint-*") if p.is_dir()]
    for ckpt in _checkpoints(run_dir):
        fault = checkpoint_fault(ckpt)
        if fault is None:
            break  # the newest whole one is resumed; older ones are the Trainer's to rotate
        debris.append(ckpt)
        _say(f"{ckpt} cannot be resumed: {fault}")
    for path in debris:
        broken.mkdir(exist_ok=True)
        dest = _free_name(broken, path.name)
        path.rename(dest)
        _say(f"moved {path} to {dest}")


def last_checkpoint(run_dir: Path) -> str | None:
    """The newest checkpoint of ``run_dir`` with a trainer state (broken ones were moved aside when
    the directory was claimed), or None."""
    if not run_dir.is_dir():
        return None
    for ckpt in _checkpoints(run_dir):
        if (ckpt / "trainer_state.json").is_file():
            return str(ckpt)
    return None
