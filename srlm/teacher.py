"""The teacher stage: chain-of-thought traces by rejection sampling against gold answers.

``traces.source: generate`` samples ``traces.samples`` completions per training question from the
teacher and keeps up to ``keep_per_question`` whose final answer verifies against gold.
``traces.source: camel`` takes CAMEL's published DeepSeek-R1 traces (``camel-ai/gsm8k_distilled``)
as the teacher's, keeping only those that verify. Either way the yield is reported.
"""

from __future__ import annotations

from pathlib import Path

from .config import Params
from .generation import generate, prompt_model
from .grading import gold_options, grade
from .io import read_jsonl, write_json, write_jsonl
from .models import stop_strings
from .progress import progress
from .runtime import setup


def _report(n_questions: int, n_samples: int, kept: list[dict], out_report: Path, **extra) -> dict:
    covered = len({t["question_id"] for t in kept})
    report = {"questions": n_questions, "samples": n_samples, "traces_kept": len(kept),
              "sample_yield": len(kept) / max(n_samples, 1),
              "question_yield": covered / max(n_questions, 1), **extra}
    write_json(out_report, report)
    return report


def run_teacher(params: Params, teacher_dir: Path | None, train_file: Path, out_traces: Path,
                out_report: Path, camel_file: Path | None = None) -> dict:
    cfg = params.traces
    rows = read_jsonl(train_file, required=("id", "question", "answer"))
    if cfg.n_questions > 0:
        rows = rows[: cfg.n_questions]
    if cfg.source == "camel":
        if camel_file is None:
            raise ValueError("traces.source: camel needs the camel dataset")
        kept = []
        camel = read_jsonl(camel_file, required=("question", "answer", "cot"))
        for row in camel:
            if grade(row["cot"], row["answer"])["correct"]:
                kept.append({**row, "question_id": row["id"]})
        write_jsonl(out_traces, kept)
        return _report(len(camel), len(camel), kept, out_report, source="camel")
    device = setup(params)
    prompted = prompt_model(teacher_dir, [r["question"] for r in rows], params.eval.system_prompt,
                            base_prompt=params.eval.base_prompt)
    stops = stop_strings(prompted.meta["template"])
    outs, backend = generate(str(teacher_dir), prompted.prompts, device=device, backend=cfg.backend,
                             max_new_tokens=cfg.max_new_tokens, batch_size=cfg.batch_size,
                             temperature=cfg.temperature, top_p=cfg.top_p, n=cfg.samples,
                             seed=params.seed, desc="teacher traces",
                             tokenizer=prompted.tokenizer, stop=stops)
    kept = []
    for row, comps in progress(zip(rows, outs), "grade teacher traces", total=len(rows), unit="question"):
        good = [c for c in comps
                if c.stopped and grade(c.text, row["answer"], stops=stops, **gold_options(row))["correct"]]
        for comp in good[: cfg.keep_per_question]:
            kept.append({"id": f"{row['id']}-t{len(kept)}", "question_id": row["id"],
                         "question": row["question"], "answer": row["answer"],
                         "cot": comp.text.strip(), "source": "teacher"})
    write_jsonl(out_traces, kept)
    return _report(len(rows), len(rows) * cfg.samples, kept, out_report, source="generate",
                   backend=backend, teacher=str(teacher_dir))
