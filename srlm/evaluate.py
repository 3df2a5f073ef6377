"""The eval stage: generate, extract, grade; per-sample JSONL and a metrics JSON with the protocol.

Greedy pass@1 by default; benchmarks with ``sampling`` (``eval.benchmarks.NAME``) get avg@k over
sampled completions for each seed, with the spread over seeds. The problem is the unit of the
interval: a problem's score is its share of right samples, the accuracy their mean over problems,
and the 95% Wilson interval is taken over the number of problems (conservative for avg@k, the usual
one for greedy).
Completions that hit the token limit are counted (``truncated_fraction``) and flagged over
``TRUNCATION_FLAG``. GSM8K-style sets also report lm-evaluation-harness's own gsm8k strict-match
and flexible-extract scores (:mod:`srlm.grading.lmeval`) beside ours.
"""

from __future__ import annotations

import math
import random
import statistics
import sys
from collections import defaultdict
from pathlib import Path

from .config import GSM8K_STYLE, Params
from .generation import generate, prompt_model
from .grading import flexible_extract, gold_options, grade, protocol, strict_match
from .io import read_jsonl, write_json, write_jsonl
from .models import BASE_PROMPTS, stop_strings
from .progress import progress
from .runtime import setup

TRUNCATION_FLAG = 0.05
"""A benchmark where more than this share of completions hit the token limit is flagged."""


def wilson(k: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a proportion ``k / n`` (``k`` may be a sum of per-unit shares)."""
    if n == 0:
        return 0.0, 0.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def few_shot_examples(data_dir: Path, k: int, seed: int) -> list[dict]:
    """``k`` solved examples drawn (seeded) from the benchmark's train split."""
    if k == 0:
        return []
    train = data_dir / "train.jsonl"
    if not train.is_file():
        raise ValueError(f"eval.few_shot: {k}, but {data_dir.name} has no train split to draw from")
    rows = read_jsonl(train, required=("id", "question", "cot"))
    return random.Random(seed).sample(rows, k)


def problem_interval(samples: list[dict]) -> tuple[float, float, float, int]:
    """Accuracy (%) and its 95% interval with the problem as the unit; and the number of problems."""
    per: dict[str, list[bool]] = defaultdict(list)
    for s in samples:
        per[s["id"]].append(bool(s["correct"]))
    scores = [sum(v) / len(v) for v in per.values()]
    lo, hi = wilson(sum(scores), len(scores))
    return 100 * sum(scores) / max(len(scores), 1), 100 * lo, 100 * hi, len(scores)


def gsm8k_graded(params: Params, bench: str) -> bool:
    """Is this benchmark graded GSM8K-style (lm-eval's strict and flexible scores beside ours)?"""
    grading = params.eval.benchmarks[bench].grading
    if grading == "auto":
        return params.datasets[params.eval.dataset_of(bench)].kind in GSM8K_STYLE
    return grading == "gsm8k"


def run_eval(params: Params, model_dir: Path, bench: str, data_dir: Path, out_json: Path,
             out_samples: Path) -> dict:
    device = setup(params)
    rows = read_jsonl(data_dir / "test.jsonl", required=("id", "question", "answer"))
    limit = params.eval.limit_for(bench)
    if limit > 0:
        rows = rows[:limit]
    system = params.eval.system_prompt
    shots = few_shot_examples(data_dir, params.eval.few_shot, params.seed)
    base_prompt = params.eval.base_prompt
    prompted = prompt_model(model_dir, [r["question"] for r in rows], system, shots, base_prompt)
    prompts, meta = prompted.prompts, prompted.meta
    stops = stop_strings(meta["template"])
    sampling = params.eval.sampling_for(bench)
    runs = [(seed, sampling.k, sampling.temperature, sampling.top_p) for seed in sampling.seeds] \
        if sampling else [(params.seed, 1, 0.0, 1.0)]
    hash_style = gsm8k_graded(params, bench)
    samples, per_seed, backend = [], [], "hf"
    for seed, k, temperature, top_p in runs:
        outs, backend = generate(str(model_dir), prompts, device=device, backend=params.eval.backend,
                                 max_new_tokens=params.eval.max_new_tokens,
                                 batch_size=params.eval.batch_size, temperature=temperature,
                                 top_p=top_p, n=k, seed=seed, desc=f"eval {bench} seed {seed}",
                                 tokenizer=prompted.tokenizer, stop=stops, policy=params.eval)
        correct = 0
        for row, prompt, comps in progress(zip(rows, prompts, outs), f"grade {bench} seed {seed}",
                                           total=len(rows), unit="problem"):
            for index, comp in enumerate(comps):
                sample = {"id": row["id"], "seed": seed, "sample": index, "prompt": prompt,
                          "completion": comp.text,
                          **grade(comp.text, row["answer"], stops=stops, **gold_options(row)),
                          "gold": row["answer"], "stopped": comp.stopped, "n_tokens": comp.n_tokens}
                if hash_style:
                    sample["strict"] = strict_match(comp.text, row["answer"])
                    sample["flexible"] = flexible_extract(comp.text, row["answer"])
                correct += sample["correct"]
                samples.append(sample)
        per_seed.append(100.0 * correct / max(len(rows) * k, 1))
    n, k_total = len(samples), sum(s["correct"] for s in samples)
    accuracy, lo, hi, problems = problem_interval(samples)
    stopped = sum(s["stopped"] for s in samples) / max(n, 1)
    truncated = 1 - stopped
    if truncated > TRUNCATION_FLAG:
        print(f"warning: {bench}: {truncated:.1%} of completions hit max_new_tokens="
              f"{params.eval.max_new_tokens} (flagged over {TRUNCATION_FLAG:.0%})", file=sys.stderr)
    plain = meta["template"] == "plain"
    metrics = {
        "model": str(model_dir), "lineage": meta.get("lineage"), "benchmark": bench,
        "accuracy": accuracy, "ci95": [lo, hi],
        "n": len(rows), "samples": n, "correct": k_total,
        "per_seed": per_seed, "seed_std": statistics.pstdev(per_seed) if len(per_seed) > 1 else 0.0,
        "stopped_fraction": stopped, "truncated_fraction": truncated,
        "truncation_flag": truncated > TRUNCATION_FLAG,
        "mean_new_tokens": sum(s["n_tokens"] for s in samples) / max(n, 1),
        "protocol": {
            "template": meta["template"],
            "system_prompt": system if meta["template"] == "chat" else None,
            "base_prompt": base_prompt if plain else None,
            "prompt_format": (BASE_PROMPTS[base_prompt].format(question="{question}") if plain
                              else "the model's chat template"),
            "stop_strings": list(stops),
            "decoding": f"avg@{sampling.k}" if sampling else "greedy pass@1",
            "temperature": runs[0][2], "top_p": runs[0][3], "k": runs[0][1],
            "seeds": [r[0] for r in runs], "max_new_tokens": params.eval.max_new_tokens,
            "few_shot": len(shots), "few_shot_ids": [s["id"] for s in shots],
            "backend": backend, "grading": protocol(),
            "interval": f"95% Wilson over the {problems} problems (a problem's score: its share of "
                        "right samples)"},
    }
    if hash_style:
        metrics["strict_accuracy"] = 100.0 * sum(s["strict"] for s in samples) / max(n, 1)
        metrics["flexible_accuracy"] = 100.0 * sum(s["flexible"] for s in samples) / max(n, 1)
    write_jsonl(out_samples, samples)
    write_json(out_json, metrics)
    return metrics
