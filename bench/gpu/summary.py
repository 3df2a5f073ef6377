"""The fast-path check's verdict: ratios new/old, PASS/FAIL against the targets, and the rates
``bench/plan.py --rates`` estimates GPU-hours from (``srlm plan``'s units, bench/rates.yaml).

    python bench/gpu/summary.py SUMMARY.json      # print the verdict of a saved run again
"""

from __future__ import annotations

import json
import math
import sys

TARGETS = {  # measurement -> (comparison, target); one H200, a random Qwen2.5-0.5B shape
    "sft.packed.tokens_s": (">=", 90_000),
    "sft.padding_free.tokens_s": (">=", 50_000),
    "eval.new.warm_tokens_s": (">=", 60_000),
    "eval.new.compile_s": ("<=", 45),
    "grpo.new.s_per_step": ("<=", 7.0),
    "grpo.genbatch.s_per_step": ("<=", 4.5),
}
RATIOS = {  # name -> (new, old, higher is better)
    "sft padding-free / padded (tokens/s)": ("sft.padding_free.tokens_s", "sft.padded.tokens_s", True),
    "sft packed / padded (tokens/s)": ("sft.packed.tokens_s", "sft.padded.tokens_s", True),
    "eval new warm / old (new tokens/s)": ("eval.new.warm_tokens_s", "eval.old.warm_tokens_s", True),
    "grpo old / new (s a step)": ("grpo.new.s_per_step", "grpo.old.s_per_step", False),
    "grpo old / genbatch (s a step)": ("grpo.genbatch.s_per_step", "grpo.old.s_per_step", False),
}
TOKENS_PER_EXAMPLE = 161
"""GSM8K SFT example (prompt and completion, Qwen2.5 tokenizer): 5.2k tokens/s x 0.031 s an example
on 2026-11-27 (bench/rates.yaml); converts SFT tokens/s into srlm plan's seconds per example."""
STARTUP_S = {"train": 25, "eval": 22, "grpo": 50}
"""Job start-up besides compiling (imports, loading, dataset preparation): bench/rates.yaml's cuda."""


def get(run: dict, dotted: str) -> float:
    node = run
    for part in dotted.split("."):
        node = node.get(part, {}) if isinstance(node, dict) else {}
    return float(node) if isinstance(node, (int, float)) else math.nan


def verdicts(run: dict) -> dict[str, dict]:
    out = {}
    for key, (op, target) in TARGETS.items():
        value = get(run, key)
        ok = not math.isnan(value) and (value >= target if op == ">=" else value <= target)
        out[key] = {"value": value, "target": f"{op} {target}", "pass": ok}
    return out


def ratios(run: dict) -> dict[str, float]:
    out = {}
    for name, (new, old, higher) in RATIOS.items():
        a, b = get(run, new), get(run, old)
        out[name] = (a / b if higher else b / a) if a and b else math.nan
    return out


def plan_rates(run: dict) -> dict[str, dict]:
    """``srlm plan`` rates (cuda) from the measured new paths, where measured."""
    rates = {}
    sft, comp = get(run, "sft.padding_free.tokens_s"), get(run, "sft.padding_free.first_step_s")
    if sft > 0:
        rates["train"] = {"startup_s": STARTUP_S["train"] + (comp if comp > 0 else 0),
                          "per_unit": TOKENS_PER_EXAMPLE / sft, "mem_mb": None}
    warm, compile_s = get(run, "eval.new.warm_tokens_s"), get(run, "eval.new.compile_s")
    if warm > 0:
        rates["eval"] = {"startup_s": STARTUP_S["eval"] + max(compile_s, 0), "per_unit": 1 / warm,
                         "mem_mb": None}
    step, tokens = get(run, "grpo.new.s_per_step"), get(run, "grpo.new.completion_tokens_per_step")
    if step > 0 and tokens > 0:
        rates["grpo"] = {"startup_s": STARTUP_S["grpo"] + max(get(run, "grpo.new.first_cycle_extra_s"), 0),
                         "per_unit": step / tokens, "mem_mb": None}
    return rates


def finish(run: dict) -> dict:
    """``run`` with its verdicts, ratios and plan rates added; prints them."""
    run = {**run, "verdicts": verdicts(run), "ratios": ratios(run), "plan_rates": plan_rates(run)}
    tiny = run.get("mode") == "tiny"
    print("ratios (new path over old, same run):")
    for name, value in run["ratios"].items():
        print(f"  {name:40s} {value:8.2f}x")
    print("targets" + (" (tiny CPU mode: the targets are the H200's, not this run's)" if tiny else "") + ":")
    for key, v in run["verdicts"].items():
        print(f"  {'PASS' if v['pass'] else 'FAIL'}  {key:30s} {v['value']:12.1f}  target {v['target']}")
    return run


def main() -> None:
    finish(json.loads(open(sys.argv[1]).read()))


if __name__ == "__main__":
    main()
