"""``srlm``: one subcommand per stage of the study; the Snakemake rules are thin calls of these."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .config import ParamsError, apply_cpu_numerics, load_params, parse_pipeline
from .paths import INIT, Paths, model_inputs, model_sections, train_inputs, train_sections


def _params(args):
    return args.loaded_params  # loaded and validated once, in ``main``


def _prepare(command: str, inputs, outputs, params=None) -> None:
    """Before any compute: the device the params ask for is there (``params`` given), each input
    matches the sha256 its producer recorded, each output can be written."""
    from .io import ensure_writable, verify_input

    if params is not None:
        from .runtime import resolve_device

        resolve_device(params)
    for path in inputs:
        for warning in verify_input(path):
            print(f"srlm {command}: warning: {warning}", file=sys.stderr)
    ensure_writable(*outputs)


def cmd_check(args) -> None:
    params = _params(args)
    print(json.dumps({"profile": params.profile, "students": params.students,
                      "pipelines": params.pipelines(), "benchmarks": params.eval.benchmarks}))


def cmd_data(args) -> None:
    from .data import run_data

    params = _params(args)
    out = Paths(params).data(args.dataset)
    _prepare("data", [], [out])
    manifest = run_data(params, args.dataset, out)
    print(json.dumps(manifest["splits"]))


def cmd_tokenizer(args) -> None:
    from .train.tiny import build_tiny_tokenizer

    params = _params(args)
    paths = Paths(params)
    _prepare("tokenizer", [paths.data(params.train_data)], [paths.tokenizer])
    build_tiny_tokenizer(params, paths.data(params.train_data), paths.tokenizer)


def cmd_model(args) -> None:
    params = _params(args)
    paths = Paths(params)
    if args.model not in params.models:
        raise ValueError(f"unknown model {args.model!r}: not a key of models ({sorted(params.models)})")
    spec = params.models[args.model]
    if spec.source == "tiny":
        from .train.resume import claim_run_dir
        from .train.tiny import build_tiny_model

        inputs = model_inputs(params, args.model)
        _prepare("model", inputs.values(), [paths.model(args.model), paths.run(args.model) / "x"], params)
        with claim_run_dir(paths.run(args.model), params, model_sections(args.model),
                           list(inputs.values())):
            build_tiny_model(params, args.model, inputs["data"], inputs["tokenizer"],
                             paths.model(args.model), paths.run(args.model), inputs.get("init"))
    elif spec.source == "standin":
        from .io import atomic_dir
        from .models import write_meta
        from .standin import build_qwen_model

        _prepare("model", [], [paths.model(args.model)])
        arch = params.standin.teacher if spec.role == "teacher" else params.standin.student
        with atomic_dir(paths.model(args.model)) as tmp:
            build_qwen_model("base" if spec.template == "plain" else "instruct", **arch.model_dump(),
                             seed=params.seed, out_dir=tmp)
            write_meta(tmp, spec.template, [args.model], source="standin")
    else:
        _prepare("model", [], [paths.model(args.model)])
        from .models import fetch_hub_model

        fetch_hub_model(args.model, spec.source, spec.revision, spec.template, paths.model(args.model))


def cmd_teacher(args) -> None:
    from .teacher import run_teacher

    params = _params(args)
    paths = Paths(params)
    camel = [n for n, d in params.datasets.items() if d.kind == "camel"]
    reads = [paths.data(params.train_data), *(paths.data(c) for c in camel[:1])]
    if params.traces.source == "generate":
        reads.append(paths.model(params.teacher))
    _prepare("teacher", reads, [paths.traces, paths.traces_report],
             params if params.traces.source == "generate" else None)
    report = run_teacher(params, paths.model(params.teacher),
                         paths.data(params.train_data) / "train.jsonl", paths.traces,
                         paths.traces_report,
                         camel_file=paths.data(camel[0]) / "train.jsonl" if camel else None)
    print(json.dumps(report))


def cmd_train(args) -> None:
    from .models import read_meta
    from .train.resume import claim_run_dir

    params = _params(args)
    paths = Paths(params)
    if args.model not in params.students:
        raise ValueError(f"unknown student {args.model!r} (students: {params.students})")
    stage = parse_pipeline(args.pipeline)[-1]
    inputs = train_inputs(params, args.model, args.pipeline)
    start = inputs["start"]
    out, run = paths.model(args.model, args.pipeline), paths.run(args.model, args.pipeline)
    _prepare("train", inputs.values(), [out, run / "x"], params)
    lineage = [*read_meta(start)["lineage"], stage]
    with claim_run_dir(run, params, train_sections(args.pipeline), list(inputs.values())):
        summary = _train(params, stage, inputs, start, out, run, lineage)
    if int(os.environ.get("RANK", "0")) == 0:  # under torchrun: one summary line, not one per rank
        print(json.dumps({k: summary[k] for k in ("global_step", "resumed_from", "train_runtime_s")}))


def _train(params, stage: str, inputs: dict, start: Path, out: Path, run: Path, lineage: list[str]):
    from .io import read_jsonl

    spec = {"sft": params.sft.full, "lora": params.sft.lora, "kd": params.kd.train,
            "rl": params.rl.train}[stage]
    first = slice(None) if spec.max_examples < 0 else slice(spec.max_examples)
    if stage == "kd":
        from .train.kd import run_kd

        traces = read_jsonl(inputs["traces"], required=("question", "answer", "cot"))[first]
        summary = run_kd(params, start, inputs["teacher"], out, run, traces, lineage)
    else:
        rows = read_jsonl(inputs["data"] / "train.jsonl", required=("question", "answer", "cot"))[first]
        if stage == "rl":
            from .train.rl import run_rl

            summary = run_rl(params, start, out, run, rows, lineage)
        else:
            from .train.sft import run_sft

            summary = run_sft(params, start, out, run, rows, lineage, lora=stage == "lora")
    return summary


def cmd_eval(args) -> None:
    from .evaluate import run_eval

    params = _params(args)
    paths = Paths(params)
    benches = args.bench or params.eval.benchmarks
    unknown = [b for b in benches if b not in params.datasets]
    if unknown:
        raise ValueError(f"unknown benchmark {unknown[0]!r}: not a key of datasets "
                         f"({sorted(params.datasets)})")
    model_dir = paths.model(args.model, args.pipeline)
    _prepare("eval", [model_dir, *(paths.data(b) for b in benches)],
             [p for b in benches for p in (paths.eval(args.model, args.pipeline, b),
                                          paths.samples(args.model, args.pipeline, b))], params)
    for bench in benches:  # one process for all: start-up and imports paid once
        metrics = run_eval(params, paths.model(args.model, args.pipeline), bench, paths.data(bench),
                           paths.eval(args.model, args.pipeline, bench),
                           paths.samples(args.model, args.pipeline, bench))
        print(json.dumps({k: metrics[k] for k in ("benchmark", "accuracy", "n", "stopped_fraction")}),
              flush=True)


def cmd_tables(args) -> None:
    from .tables import write_table

    params = _params(args)
    paths = Paths(params, args.results)
    for n in args.table or (1, 2, 3):
        print(write_table(params, paths, n))


def cmd_report(args) -> None:
    from .report import report_path, write_report

    params = _params(args)
    out = args.out or report_path(params, args.results)
    print(write_report(params, Paths(params, args.results), out, args.params))


def cmd_plan(args) -> None:
    from .plan import print_plan

    print_plan(_params(args), args.params, args.gpus)


def cmd_dvc(args) -> None:
    from .dvcgen import dvc_yaml

    print(dvc_yaml(_params(args), args.params), end="")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="srlm", description=__doc__)
    parser.add_argument("--params", default=os.environ.get("SRLM_PARAMS", "params/paper.yaml"),
                        help="params file (default: $SRLM_PARAMS or params/paper.yaml)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("check", help="validate the params and list the pipelines").set_defaults(fn=cmd_check)
    p = sub.add_parser("data", help="download or mirror, verify and normalise a dataset")
    p.add_argument("--dataset", required=True)
    p.set_defaults(fn=cmd_data)
    sub.add_parser("tokenizer", help="build the tiny profile's tokenizer").set_defaults(fn=cmd_tokenizer)
    p = sub.add_parser("model", help="fetch a hub model or build a tiny one into models/NAME/init")
    p.add_argument("--model", required=True)
    p.set_defaults(fn=cmd_model)
    sub.add_parser("teacher", help="teacher traces by rejection sampling").set_defaults(fn=cmd_teacher)
    p = sub.add_parser("train", help="run the last stage of a pipeline (sft, lora, kd, rl)")
    p.add_argument("--model", required=True)
    p.add_argument("--pipeline", required=True)
    p.set_defaults(fn=cmd_train)
    p = sub.add_parser("eval", help="evaluate a model on the profile's benchmarks (or --bench B ...)")
    p.add_argument("--model", required=True)
    p.add_argument("--pipeline", default=INIT)
    p.add_argument("--bench", action="append", help="only this benchmark (repeatable)")
    p.set_defaults(fn=cmd_eval)
    p = sub.add_parser("tables", help="write results/table{1,2,3}.{csv,md,png}")
    p.add_argument("--table", type=int, action="append", choices=(1, 2, 3))
    p.add_argument("--results", type=Path, default=Path("results"))
    p.set_defaults(fn=cmd_tables)
    p = sub.add_parser("report", help="write results/PROFILE/report.html (tables, figures, cost)")
    p.add_argument("--results", type=Path, default=Path("results"))
    p.add_argument("--out", type=Path, help="default: RESULTS/PROFILE/report.html")
    p.set_defaults(fn=cmd_report)
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
