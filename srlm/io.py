"""Atomic outputs, JSONL with line-numbered errors, checksums recorded by producers and checked by
consumers, and the pre-compute check that outputs can be written."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path


class DataError(ValueError):
    """Bad input data: names the file and line."""


def sha256_file(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_tree(path: str | os.PathLike) -> str:
    """sha256 of a file, or of a directory's relative file names and contents (sorted)."""
    path = Path(path)
    if path.is_file():
        return sha256_file(path)
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(f"{file.relative_to(path)}\0{sha256_file(file)}\n".encode())
    return digest.hexdigest()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale_temps(path: str | os.PathLike) -> list[Path]:
    """Remove the ``.NAME.tmp-PID`` debris an interrupted write of ``path`` left (its PID is gone)."""
    path = Path(path)
    removed = []
    for tmp in path.parent.glob(f".{path.name}.tmp-*"):
        pid = tmp.name.rsplit("-", 1)[1]
        if pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
            _remove(tmp)
            removed.append(tmp)
    return removed


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling path; rename it onto ``path`` only if the block succeeds.

    Works for files and directories. An interrupted block leaves only ``.NAME.tmp-PID`` debris, never
    a file that looks complete; the next write of ``path`` removes debris whose process is gone.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temps(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    _remove(tmp)
    try:
        yield tmp
        if path.exists():
            _remove(path)
        os.replace(tmp, path)
    finally:
        _remove(tmp)


FILES_RECORD = "srlm_files.json"
"""Inside every directory output of the graph: the sha256 of each of its files, written by its producer."""


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """:func:`atomic_path` for a directory output: the block fills a fresh folder, which is sealed with
    :data:`FILES_RECORD` (what :func:`verify_input` checks) before it is renamed onto ``path``."""
    with atomic_path(path) as tmp:
        tmp.mkdir(parents=True)
        yield tmp
        (tmp / FILES_RECORD).write_text(json.dumps(record_files(tmp), indent=1) + "\n")


def verify_input(path: str | os.PathLike) -> list[str]:
    """Check a directory a stage reads against the sha256 its producer recorded; a changed or
    missing file is a :class:`DataError` naming it. Returns warnings (a folder with no record)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: missing (its stage has not run, or its output was removed)")
    if not path.is_dir():
        return []
    record = path / FILES_RECORD
    if not record.is_file():
        return [f"{path}: no {FILES_RECORD} (made by an older srlm): its files cannot be checked"]
    check_files(path, read_json_file(record), str(record))
    return []


class OutputError(RuntimeError):
    """An output cannot be written (a read-only or missing folder): found before any compute."""


def ensure_writable(*paths: str | os.PathLike) -> None:
    """Check that each output path's folder exists or can be made, and that a file can be put there."""
    import tempfile

    for path in paths:
        folder = Path(path).parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".srlm-write-check-"):
                pass
        except OSError as err:
            raise OutputError(f"{path}: cannot write into {folder} ({err.strerror or err}); "
                              "nothing was computed") from None


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path: str | os.PathLike, obj) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def write_jsonl(path: str | os.PathLike, rows: Iterable[dict]) -> int:
    n = 0
    with atomic_path(path) as tmp, open(tmp, "w") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    return n


def _decode(path: str | os.PathLike, lineno: int, raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise DataError(f"{path}:{lineno}:{err.start + 1}: not UTF-8 (byte 0x{raw[err.start]:02x})") from None


def read_jsonl(path: str | os.PathLike, required: Iterable[str] = ()) -> list[dict]:
    """Read JSONL; bad UTF-8, a malformed line or a missing required field raises :class:`DataError`."""
    required = tuple(required)
    rows = []
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            line = _decode(path, lineno, raw)
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise DataError(f"{path}:{lineno}: malformed JSON ({err.msg})") from None
            if not isinstance(row, dict):
                raise DataError(f"{path}:{lineno}: expected a JSON object")
            missing = [k for k in required if row.get(k) in (None, "")]
            if missing:
                raise DataError(f"{path}:{lineno}: missing field(s) {', '.join(missing)}")
            rows.append(row)
    return rows


def read_json(path: str | os.PathLike) -> dict:
    with open(path) as fh:
        return json.load(fh)


def read_json_file(path: str | os.PathLike) -> dict:
    """A JSON object from a file the graph wrote; unreadable or malformed is a :class:`DataError`."""
    try:
        obj = json.loads(_decode(path, 1, Path(path).read_bytes()))
    except (OSError, json.JSONDecodeError) as err:
        raise DataError(f"{path}: cannot read ({err})") from None
    if not isinstance(obj, dict):
        raise DataError(f"{path}: expected a JSON object")
    return obj


def record_files(folder: str | os.PathLike, skip: Iterable[str] = ()) -> dict[str, str]:
    """sha256 of every file in ``folder`` (relative names), for its producer's record."""
    folder, skip = Path(folder), set(skip)
    return {str(f.relative_to(folder)): sha256_file(f) for f in sorted(folder.rglob("*"))
            if f.is_file() and str(f.relative_to(folder)) not in skip}


def check_files(folder: str | os.PathLike, recorded: dict[str, str], record: str) -> None:
    """Stop naming the first file of ``folder`` whose sha256 differs from its producer's ``record``."""
    folder = Path(folder)
    for name, expected in recorded.items():
        file = folder / name
        if not file.is_file():
            raise DataError(f"{file}: missing; {record} records it (rerun the stage that made {folder})")
        if sha256_file(file) != expected:
            raise DataError(f"{file}: changed since it was made (sha256 differs from {record}); "
                            f"rerun the stage that made {folder}, or restore the file")
