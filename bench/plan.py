"""GPU-hours of the paper profile's jobs and of table 2, from measured rates or labelled estimates.

    python bench/plan.py                                  # bench/rates.yaml (2026-11-27, old paths)
    python bench/plan.py --rates /tmp/out/summary.json    # bench/gpu/check.sh's measured new paths
    python bench/plan.py --targets                        # check.sh's targets taken as rates

Job times are ``srlm plan``'s (srlm/plan.py): start-up plus a rate times the job's work, with
training and evaluation at their token limits (upper bounds: every completion runs to
``max_new_tokens``). Rates a summary does not hold (a part that failed) stay bench/rates.yaml's.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent / "gpu"))

TABLE = "table2"


def target_rates() -> dict[str, dict]:
    """check.sh's targets as rates (summary.TARGETS): padding-free SFT, warm evaluation with its
    compile, GRPO at 16 x 8 x 512 tokens a step, all on the new paths."""
    import summary

    t = {k: v for k, (_, v) in summary.TARGETS.items()}
    return summary.plan_rates({
        "sft": {"padding_free": {"tokens_s": t["sft.padding_free.tokens_s"], "first_step_s": 60}},
        "eval": {"new": {"warm_tokens_s": t["eval.new.warm_tokens_s"], "compile_s": t["eval.new.compile_s"]}},
        "grpo": {"new": {"s_per_step": t["grpo.new.s_per_step"], "completion_tokens_per_step": 16 * 8 * 512,
                         "first_cycle_extra_s": 60}}})


def needed_by(jobs, name: str) -> set[str]:
    by_name, todo, seen = {j.name: j for j in jobs}, [name], set()
    while todo:
        job = by_name[todo.pop()]
        if job.name not in seen:
            seen.add(job.name)
            todo.extend(job.deps)
    return seen


def main() -> None:
    from srlm.config import load_params
    from srlm.plan import CPU_RULES, estimate

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", default="params/paper.yaml")
    group = ap.add_mutually_exclusive_group()
    group.add_argument("--rates", type=Path, help="bench/gpu/check.sh's summary.json")
    group.add_argument("--targets", action="store_true", help="the check's targets as rates")
    ap.add_argument("--brief", action="store_true", help="totals only")
    args = ap.parse_args()
    params = load_params(args.params)
    if args.rates:
        import summary

        run = json.loads(args.rates.read_text())
        overrides = run.get("plan_rates") or summary.plan_rates(run)  # a run cut short: raw figures
        label = (f"MEASURED ({args.rates}: {', '.join(sorted(overrides)) or 'no rates'}; "
                 "the rest bench/rates.yaml)")
        if run.get("mode") == "tiny":
            label += " from a tiny CPU dry run: not GPU rates"
    elif args.targets:
        overrides, label = target_rates(), "TARGETS, not measured (bench/gpu/summary.py TARGETS as rates)"
    else:
        overrides = {}
        label = "ESTIMATES from bench/rates.yaml (H200 2026-11-27, the old paths; no fast-path run)"
    jobs = estimate(params, args.params, overrides)
    for job in jobs:
        key = job.source.removeprefix("rate: cuda.").split(",")[0]
        if key in overrides:
            job.source = job.source.replace("rate: cuda.", "rate: " + ("check." if args.rates else "target."))
    gpu = [j for j in jobs if j.rule not in CPU_RULES]
    table = needed_by(jobs, TABLE)
    print(f"GPU-hours, profile {params.profile} ({args.params}): {label}")
    if not args.brief:
        print(f"{'job':30s} {'GPU-h':>7s}  {'table 2':7s}  from")
        for j in gpu:
            print(f"{j.name:30s} {j.seconds / 3600:7.2f}  {'yes' if j.name in table else '':7s}  {j.source}")
    hours = sum(j.seconds for j in gpu if j.name in table) / 3600
    print(f"table 2: {sum(j.name in table for j in gpu)} GPU jobs, {hours:.2f} GPU-hours "
          f"(target <= 5); all {len(gpu)} GPU jobs: {sum(j.seconds for j in gpu) / 3600:.2f} GPU-hours")
    print("upper bounds: every completion at its token limit; one GPU per job")


if __name__ == "__main__":
    main()
