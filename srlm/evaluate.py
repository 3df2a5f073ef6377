"""The eval stage: generate, extract, grade; per-sample JSONL and a metrics JSON with the protocol."""

from __future__ import annotations

import math
from pathlib import Path

from .config import Params
from .generation import generate
from .grading import grade
from .io import read_jsonl, write_json, write_jsonl
from .models import read_meta, render_prompt
from .train.common import setup


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a proportion."""
    if n == 0:
        return 0.0, 0.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def clean_plain(text: str) -> str:
    """A base model under the plain template may run on into a new question: cut it there."""
    return text.split("\nQuestion:")[0]


def run_eval(params: Params, model_dir: Path, bench: str, data_dir: Path, out_json: Path,
             out_samples: Path) -> dict:
    from .models import load_tokenizer

    device = setup(params)
    meta = read_meta(model_dir)
    rows = read_jsonl(data_dir / "test.jsonl", required=("id", "question", "answer"))
    if params.eval.limit > 0:
        rows = rows[: params.eval.limit]
    tokenizer = load_tokenizer(model_dir)
    system = params.eval.system_prompt
    prompts = [render_prompt(tokenizer, r["question"], meta["template"], system) for r in rows]
    outs, backend = generate(str(model_dir), prompts, device=device, backend=params.eval.backend,
                             max_new_tokens=params.eval.max_new_tokens,
                             batch_size=params.eval.batch_size, seed=params.seed,
                             desc=f"eval {bench}")
    samples = []
    for row, prompt, (comp,) in zip(rows, prompts, outs):
        text = clean_plain(comp.text) if meta["template"] == "plain" else comp.text
        samples.append({"id": row["id"], "prompt": prompt, "completion": text,
                        **grade(text, row["answer"]), "gold": row["answer"],
                        "stopped": comp.stopped, "n_tokens": comp.n_tokens})
    n, k = len(samples), sum(s["correct"] for s in samples)
    lo, hi = wilson(k, n)
    metrics = {
        "model": str(model_dir), "lineage": meta.get("lineage"), "benchmark": bench,
        "accuracy": 100.0 * k / max(n, 1), "ci95": [100 * lo, 100 * hi], "n": n, "correct": k,
        "stopped_fraction": sum(s["stopped"] for s in samples) / max(n, 1),
        "mean_new_tokens": sum(s["n_tokens"] for s in samples) / max(n, 1),
        "protocol": {"template": meta["template"], "system_prompt": system if meta["template"] ==
                     "chat" else None, "decoding": "greedy", "k": 1, "seed": params.seed,
                     "max_new_tokens": params.eval.max_new_tokens, "backend": backend,
                     "extractor": "last \\boxed{} > '####' > last number",
                     "grader": "numeric, else math-verify"},
    }
    write_jsonl(out_samples, samples)
    write_json(out_json, metrics)
    return metrics
