"""``srlm``: one subcommand per stage of the study; the Snakemake rules are thin calls of these."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .config import Params, ParamsError, apply_cpu_numerics, load_params, parse_pipeline
from .paths import INIT, Paths
from .stages import STAGES, Stage


def _prepare(stage: Stage, params: Params, wc: dict) -> None:
    """Before any compute: the device the stage's params ask for is there, each input matches the
    sha256 its producer recorded, each output (and checkpoint folder) can be written."""
    from .io import ensure_writable, verify_input

    if "device" in stage.reads(params, wc):
        from .runtime import resolve_device

        resolve_device(params)
    for path in stage.input_paths(params, wc):
        for warning in verify_input(path):
            print(f"srlm {stage.name}: warning: {warning}", file=sys.stderr)
    run = stage.checkpoints(params, wc)
    ensure_writable(*stage.output_paths(params, wc), *([run / "x"] if run else []))


def _check_names(params: Params, stage: Stage, wc: dict) -> None:
    """Unknown names on the command line are errors naming them and the known ones."""
    known = {"dataset": params.datasets, "model": params.students if stage.name == "train" else params.models}
    for key, names in known.items():
        if key in wc and wc[key] not in names:
            what = "student" if stage.name == "train" else key
            raise ValueError(f"unknown {what} {wc[key]!r} (known: {', '.join(sorted(names))})")
    if wc.get("pipeline", INIT) != INIT or stage.name == "train":
        parse_pipeline(wc["pipeline"])
    for bench in wc.get("bench", []):
        if bench not in params.eval.benchmarks:
            raise ValueError(f"unknown benchmark {bench!r}: not one of eval.benchmarks "
                             f"({', '.join(params.eval.benchmarks)})")


def run_stage(args) -> None:
    """Run one stage: check its names, device, inputs and outputs, then call its body with its view
    of the params (and, for a training stage, its claimed checkpoint folder)."""
    params, stage = args.loaded_params, STAGES[args.command]
    wc = {w: str(getattr(args, w)) for w in stage.wildcards}
    if getattr(args, "bench", None):  # eval of some benchmarks only
        wc["bench"] = args.bench
    _check_names(params, stage, wc)
    _prepare(stage, params, wc)
    view, ins = stage.view(params, wc), stage.inputs(params, wc)
    outs, run = stage.outputs(params, wc), stage.checkpoints(params, wc)
    if run is None:
        BODIES[stage.name](view, wc, ins, outs, run, args)
        return
    from .train.resume import claim_run_dir

    with claim_run_dir(run, params, stage.reads(params, wc), stage.input_paths(params, wc)):
        BODIES[stage.name](view, wc, ins, outs, run, args)


def body_data(params, wc, ins, outs, run, args) -> None:
    from .data import run_data

    print(json.dumps(run_data(params, wc["dataset"], outs["data"].path)["splits"]))


def body_tokenizer(params, wc, ins, outs, run, args) -> None:
    from .train.tiny import build_tiny_tokenizer

    build_tiny_tokenizer(params, ins["data"], outs["tokenizer"].path)


def body_model(params, wc, ins, outs, run, args) -> None:
    name, out = wc["model"], outs["model"].path
    spec = params.models[name]
    if spec.source == "tiny":
        from .train.tiny import build_tiny_model

        build_tiny_model(params, name, ins["data"], ins["tokenizer"], out, run, ins.get("init"))
    elif spec.source == "standin":
        from .io import atomic_dir
        from .models import write_meta
        from .standin import build_qwen_model

        arch = params.standin.teacher if spec.role == "teacher" else params.standin.student
        with atomic_dir(out) as tmp:
            build_qwen_model("base" if spec.template == "plain" else "instruct", **arch.model_dump(),
                             seed=params.seed, out_dir=tmp)
            write_meta(tmp, spec.template, [name], source="standin")
    else:
        from .models import fetch_hub_model

        fetch_hub_model(name, spec.source, spec.revision, spec.template, out)


def body_teacher(params, wc, ins, outs, run, args) -> None:
    from .teacher import run_teacher

    camel = ins.get("camel")
    report = run_teacher(params, ins.get("teacher"), ins["data"] / "train.jsonl", outs["traces"].path,
                         outs["report"].path, camel_file=camel / "train.jsonl" if camel else None)
    print(json.dumps(report))


def body_train(params, wc, ins, outs, run, args) -> None:
    from .io import read_jsonl
    from .models import read_meta

    stage = parse_pipeline(wc["pipeline"])[-1]
    out = outs["model"].path
    lineage = [*read_meta(ins["start"])["lineage"], stage]
    spec = {"sft": lambda: params.sft.full, "lora": lambda: params.sft.lora,
            "kd": lambda: params.kd.train, "rl": lambda: params.rl.train}[stage]()
    first = slice(None) if spec.max_examples < 0 else slice(spec.max_examples)
    if stage == "kd":
        from .train.kd import run_kd

        traces = read_jsonl(ins["traces"], required=("question", "answer", "cot"))[first]
        summary = run_kd(params, ins["start"], ins["teacher"], out, run, traces, lineage)
    else:
        rows = read_jsonl(ins["data"] / "train.jsonl", required=("question", "answer", "cot"))[first]
        if stage == "rl":
            from .train.rl import run_rl

            summary = run_rl(params, ins["start"], out, run, rows, lineage)
        else:
            from .train.sft import run_sft

            summary = run_sft(params, ins["start"], out, run, rows, lineage, lora=stage == "lora")
    if int(os.environ.get("RANK", "0")) == 0:  # under torchrun: one summary line, not one per rank
        print(json.dumps({k: summary[k] for k in ("global_step", "resumed_from", "train_runtime_s")}))


def body_eval(params, wc, ins, outs, run, args) -> None:
    from .evaluate import run_eval

    benches = wc.get("bench") or params.eval.benchmarks
    for bench, data, metrics, samples in zip(benches, ins["data"], outs["metrics"], outs["samples"],
                                             strict=True):
        result = run_eval(params, ins["model"], bench, data, metrics.path, samples.path)
        print(json.dumps({k: result[k] for k in ("benchmark", "accuracy", "n", "stopped_fraction")}),
              flush=True)  # one process for every benchmark: start-up and imports paid once


def body_tables(params, wc, ins, outs, run, args) -> None:
    from .tables import write_table

    print(write_table(params, Paths(params, args.results), int(wc["table"])))


def body_report(params, wc, ins, outs, run, args) -> None:
    from .report import report_path, write_report

    out = args.out or report_path(params, args.results)
    print(write_report(params, Paths(params, args.results), out, args.params))


BODIES = {"data": body_data, "tokenizer": body_tokenizer, "model": body_model,
          "teacher": body_teacher, "train": body_train, "eval": body_eval, "tables": body_tables,
          "report": body_report}
"""Each stage's body: ``(params view, wildcards, inputs, outputs, checkpoint folder, CLI args)``."""


def cmd_check(args) -> None:
    from .stages import unread_keys

    params = args.loaded_params
    unread = unread_keys(params, args.params)
    print(json.dumps({"profile": params.profile, "students": params.students,
                      "pipelines": params.pipelines(), "benchmarks": list(params.eval.benchmarks),
                      "unread": unread}))
    for key in unread:
        print(f"srlm check: warning: {key} is set but read by no stage of this profile",
              file=sys.stderr)


def cmd_plan(args) -> None:
    from .plan import print_plan

    print_plan(args.loaded_params, args.params, args.gpus)


def cmd_dvc(args) -> None:
    from .dvcgen import dvc_yaml

    print(dvc_yaml(args.loaded_params, args.params), end="")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="srlm", description=__doc__)
    parser.add_argument("--params", default=os.environ.get("SRLM_PARAMS", "params/paper.yaml"),
                        help="params file (default: $SRLM_PARAMS or params/paper.yaml)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("check", help="validate the params, list the pipelines and any key no stage reads"
                   ).set_defaults(fn=cmd_check)
    for stage in STAGES.values():  # one subcommand per stage, its wildcards as options
        p = sub.add_parser(stage.name, help=stage.help)
        for w in stage.wildcards:
            if stage.name == "eval" and w == "pipeline":
                p.add_argument("--pipeline", default=INIT, help=f"default: {INIT} (before training)")
            else:
                p.add_argument(f"--{w}", required=True, type=int if w == "table" else str,
                               choices=(1, 2, 3) if w == "table" else None)
        if stage.name == "eval":
            p.add_argument("--bench", action="append", help="only this benchmark (repeatable)")
        if stage.name in ("tables", "report"):
            p.add_argument("--results", type=Path, default=Path("results"))
        if stage.name == "report":
            p.add_argument("--out", type=Path, help="default: RESULTS/PROFILE/report.html")
        p.set_defaults(fn=run_stage)
    p = sub.add_parser("plan", help="every job with its estimated time and memory, and the totals")
    p.add_argument("--gpus", type=int, default=1, help="GPUs of the cluster (CPU profile: job slots)")
    p.set_defaults(fn=cmd_plan)
    sub.add_parser("dvc", help="print dvc.yaml for these params").set_defaults(fn=cmd_dvc)
    args = parser.parse_args(argv)
    try:
        args.loaded_params = load_params(args.params)
        for warning in apply_cpu_numerics(args.loaded_params):  # before any stage imports torch
            print(f"srlm {args.command}: warning: {warning}", file=sys.stderr)
        args.fn(args)
    except (ParamsError, ValueError, RuntimeError, OSError) as err:  # each names its file or key
        print(f"srlm {args.command}: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
