"""The data stage: pinned sources (hub or offline mirror), sha256 checks, one normal form.

Normal form (one JSON object per line): ``id``, ``question``, ``answer`` (gold final answer, a
string; several answers as a comma list, ``69, 84``), ``cot`` (reference chain of thought, ending in
the final answer), ``source``; ``unit`` and ``abs_tol`` where the source gives a problem its own.
Training sets are deduplicated, decontaminated against the test split, and split off a seeded
validation set. A malformed row, a missing field or a checksum mismatch stops the stage with an
error naming the file and line.
"""

from __future__ import annotations

import json
import os
import random
import re
from pathlib import Path

from .config import DatasetSpec, Params
from .io import DataError, atomic_dir, read_jsonl, sha256_file
from .progress import progress

DEFAULT_FIELDS = {
    "gsm8k": {"question": "question", "answer": "answer", "cot": "answer"},
    "camel": {"question": "problem", "answer": "groud_truth_solution", "cot": "reasoning_solution"},
    "math": {"question": "problem", "answer": "answer", "cot": "solution"},
}
CALCULATOR = re.compile(r"<<[^>]*>>")
MAX_QUESTION_CHARS = 20_000
"""Longest question the data stage accepts (the longest in the seven benchmarks is ~5,000 characters):
a longer one is a malformed row, an error naming it, not a prompt to tokenise."""


def gsm8k_final(text: str) -> str:
    """The number after the last ``####`` of a GSM8K rationale, commas removed."""
    if "####" not in text:
        raise ValueError("no '####' final answer")
    answer = text.rsplit("####", 1)[1].strip().replace(",", "")
    if not answer:
        raise ValueError("empty answer after '####'")
    return answer


def gsm8k_cot(text: str) -> str:
    """GSM8K rationale without calculator annotations, final answer written as ``\\boxed{}``."""
    body, answer = text.rsplit("####", 1)
    body = CALCULATOR.sub("", body).strip()
    return f"{body}\nThe final answer is $\\boxed{{{answer.strip().replace(',', '')}}}$."


def norm_question(text: str) -> str:
    return " ".join(text.lower().split())


def _read_rows(path: Path) -> list[tuple[int, dict]]:
    if path.suffix == ".parquet":
        import pandas as pd

        return [(i + 1, row) for i, row in enumerate(pd.read_parquet(path).to_dict("records"))]
    rows = read_jsonl(path)
    return list(enumerate(rows, 1))


def mirror_dir(params: Params) -> str | None:
    """The offline mirror: ``$SRLM_MIRROR`` if set, else the params' ``mirror`` (relative to the cwd)."""
    return os.environ.get("SRLM_MIRROR") or params.mirror


def fetch(spec: DatasetSpec, split: str, mirror: str | None, name: str) -> tuple[Path, dict]:
    """Local path of a split's raw file (mirror first, then hub) after its sha256 check."""
    origin: dict = {}
    path: Path | None = None
    if split in spec.local_files:
        path, key = Path(spec.local_files[split]), spec.local_files[split]
        if not path.is_file():
            raise DataError(f"dataset {name}: local file {path} not found (run from the repository root)")
        origin = {"from": "local", "path": str(path)}
    if path is None and mirror and split in spec.mirror_files:
        candidate = Path(mirror) / spec.mirror_files[split]
        if candidate.is_file():
            path, key = candidate, spec.mirror_files[split]
            origin = {"from": "mirror", "path": str(candidate)}
    if path is None and split in spec.hub_splits and split not in spec.hub_files:
        return _load_hub_split(spec, split, name)
    if path is None:
        if split not in spec.hub_files:
            raise DataError(f"dataset {name}: split {split!r} is neither in the mirror nor on the hub")
        from huggingface_hub import hf_hub_download

        key = spec.hub_files[split]
        try:
            path = Path(hf_hub_download(spec.hub_repo, key, repo_type="dataset", revision=spec.revision))
        except Exception as err:  # network, auth, missing revision: all stop the stage
            raise DataError(f"dataset {name}: cannot download {spec.hub_repo}@{spec.revision}/{key}: "
                            f"{err.__class__.__name__}: {err}") from None
        origin = {"from": "hub", "repo": spec.hub_repo, "revision": spec.revision, "file": key}
    digest = sha256_file(path)
    expected = spec.sha256.get(key)
    if expected and digest != expected:
        raise DataError(f"{path}: sha256 mismatch: expected {expected}, got {digest}")
    origin.update(sha256=digest, verified=bool(expected))
    return path, origin


def _load_hub_split(spec: DatasetSpec, split: str, name: str) -> tuple[Path, dict]:
    """A split read with ``datasets.load_dataset`` at a pinned revision, cached as parquet."""
    import tempfile

    from datasets import load_dataset

    try:
        ds = load_dataset(spec.hub_repo, spec.hub_config or None, revision=spec.revision, split=split)
    except Exception as err:
        raise DataError(f"dataset {name}: cannot load {spec.hub_repo}@{spec.revision} [{split}]: "
                        f"{err.__class__.__name__}: {err}") from None
    path = Path(tempfile.mkdtemp()) / f"{name}-{split}.parquet"
    ds.to_parquet(str(path))
    return path, {"from": "hub", "repo": spec.hub_repo, "revision": spec.revision,
                  "fingerprint": ds._fingerprint, "sha256": sha256_file(path), "verified": False}


def _text(value) -> str:
    """A field as text: lists (OlympiadBench) joined, whole floats (AMC ``27.0``) as integers."""
    if isinstance(value, list):
        return ", ".join(_text(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)


def _unescape(text: str) -> str:
    return text.replace("\x0c", "\\f").replace("\t", "\\t")


def math_answer(spec: DatasetSpec, raw) -> str:
    from .grading import last_boxed, split_answers

    if isinstance(raw, list):  # OlympiadBench: "$69$,$84$" is two answers, written "69, 84"
        return ", ".join(a for v in raw for a in split_answers(_text(v)))
    text = _text(raw).strip()
    if spec.answer_from == "boxed":
        boxed = last_boxed(text)
        if boxed is None:
            raise ValueError("no \\boxed{} answer in the solution")
        text = boxed
    if text.endswith("$."):
        text = text[:-1]
    if text.startswith("$") and text.endswith("$") and len(text) > 1:
        text = text.strip("$").strip()
    return text


def grading_fields(row: dict) -> dict:
    """A problem's own comparison settings, where the source gives them (OlympiadBench): ``unit``
    (stripped from answers) and ``abs_tol`` (its ``error``, an absolute tolerance)."""
    out = {}
    if isinstance(row.get("unit"), str) and row["unit"].strip():
        out["unit"] = row["unit"].strip()
    if row.get("error") not in (None, ""):
        try:
            out["abs_tol"] = float(row["error"])
        except (TypeError, ValueError):
            raise ValueError(f"field 'error': not a number: {row['error']!r}") from None
    return out


def normalise(spec: DatasetSpec, name: str, split: str, path: Path) -> list[dict]:
    fields = {**DEFAULT_FIELDS.get(spec.kind, {}), **spec.fields}
    out = []
    for lineno, row in _read_rows(path):
        where = f"{path}:{lineno}"
        missing = [f for f in ("question", "answer") if not _text(row.get(fields[f])).strip()]
        if missing:
            raise DataError(f"{where}: missing field(s) {', '.join(fields[f] for f in missing)}")
        question = _text(row[fields["question"]]).strip()
        if len(question) > MAX_QUESTION_CHARS:
            raise DataError(f"{where}: question of {len(question):,} characters, over the limit of "
                            f"{MAX_QUESTION_CHARS:,} (srlm.data.MAX_QUESTION_CHARS)")
        raw_answer = _text(row[fields["answer"]])
        if spec.fix_escapes:
            question, raw_answer = _unescape(question), _unescape(raw_answer)
        extra: dict = {}
        try:
            if spec.kind == "gsm8k":
                answer, cot = gsm8k_final(raw_answer), gsm8k_cot(raw_answer)
            elif spec.kind == "math":
                answer = math_answer(spec, row[fields["answer"]])
                cot = _text(row.get(fields["cot"])).strip()
                extra = grading_fields(row)
            else:
                answer = gsm8k_final(raw_answer) if "####" in raw_answer else raw_answer.strip()
                cot = str(row.get(fields["cot"]) or "").strip()
        except ValueError as err:
            raise DataError(f"{where}: field {fields['answer']!r}: {err}") from None
        if not answer:
            raise DataError(f"{where}: empty gold answer")
        out.append({"id": f"{name}-{split}-{lineno}", "question": question, "answer": answer,
                    "cot": cot, "source": name, **extra})
    return out


def dedupe(rows: list[dict], banned: set[str] = frozenset()) -> tuple[list[dict], int, int]:
    """Drop repeated questions and questions found in ``banned`` (the test split)."""
    seen: set[str] = set()
    kept, dups, contaminated = [], 0, 0
    for row in rows:
        key = norm_question(row["question"])
        if key in banned:
            contaminated += 1
        elif key in seen:
            dups += 1
        else:
            seen.add(key)
            kept.append(row)
    return kept, dups, contaminated


def split_val(rows: list[dict], fraction: float, seed: int) -> tuple[list[dict], list[dict]]:
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    n_val = int(round(len(rows) * fraction))
    val_idx = set(order[:n_val])
    return ([r for i, r in enumerate(rows) if i not in val_idx],
            [r for i, r in enumerate(rows) if i in val_idx])


def build_tinyworld(params: Params) -> tuple[dict[str, list[dict]], dict]:
    from .tinyworld import generate_splits

    tw = params.tinyworld
    tiny = params.tiny
    splits = generate_splits(tw.n_train, tw.n_test, tw.n_pretrain, tw.max_steps, tw.max_operand,
                             tiny.pretrain_max_steps_per_problem if tiny else 2, tw.seed,
                             tiny.pretrain_step_weights if tiny else None)
    for rows in splits.values():
        for row in rows:
            row["source"] = "tinyworld"
    return splits, {"generator": "srlm.tinyworld", "seed": tw.seed, **tw.model_dump()}


def run_data(params: Params, name: str, out_dir: str | Path) -> dict:
    """Build ``out_dir/{train,val,test}.jsonl`` and ``manifest.json`` (the directory atomically)."""
    if name not in params.datasets:
        raise DataError(f"unknown dataset {name!r}: not a key of datasets ({sorted(params.datasets)})")
    spec = params.datasets[name]
    out_dir = Path(out_dir)
    manifest: dict = {"dataset": name, "kind": spec.kind, "splits": {}}
    if spec.kind == "tinyworld":
        splits, manifest["origin"] = build_tinyworld(params)
    else:
        splits, origins = {}, {}
        names = sorted({*spec.local_files, *spec.mirror_files, *spec.hub_files, *spec.hub_splits})
        for split in progress(names, f"data {name}", unit="split"):
            path, origins[split] = fetch(spec, split, mirror_dir(params), name)
            splits[split] = normalise(spec, name, split, path)
            if not splits[split]:
                raise DataError(f"{path}: split {split!r} of dataset {name} has no rows")
        manifest["origin"] = origins
    banned = {norm_question(r["question"]) for r in splits.get("test", [])}
    if "train" in splits:
        kept, dups, contaminated = dedupe(splits["train"], banned)
        manifest["train_duplicates_removed"] = dups
        manifest["train_test_overlap_removed"] = contaminated
        splits["train"], splits["val"] = split_val(kept, params.val_fraction, params.seed)
    with atomic_dir(out_dir) as tmp:
        for split, rows in splits.items():
            with open(tmp / f"{split}.jsonl", "w") as fh:
                fh.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
            manifest["splits"][split] = len(rows)
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest
