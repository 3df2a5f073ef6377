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


def cmd_check(args) -> None:
    params = _params(args)
    print(json.dumps({"profile": params.profile, "students": params.students,
                      "pipelines": params.pipelines(), "benchmarks": params.eval.benchmarks}))


def cmd_data(args) -> None:
    from .data import run_data

    params = _params(args)
    manifest = run_data(params, args.dataset, Paths(params).data(args.dataset))
    print(json.dumps(manifest["splits"]))


def cmd_tokenizer(args) -> None:
    from .train.tiny import build_tiny_tokenizer

    params = _params(args)
    paths = Paths(params)
    build_tiny_tokenizer(params, paths.data(params.train_data), paths.tokenizer)


def cmd_model(args) -> None:
    params = _params(args)
    paths = Paths(params)
    if args.model not in params.models:
        raise ValueError(f"unknown model {args.model!r}: not a key of models ({sorted(params.models)})")
    spec = params.models[args.model]
    if spec.source == "tiny":
        from .train.common import claim_run_dir
        from .train.tiny import build_tiny_model

        inputs = model_inputs(params, args.model)
        claim_run_dir(paths.run(args.model), params, model_sections(args.model), list(inputs.values()))
        build_tiny_model(params, args.model, inputs["data"], inputs["tokenizer"],
                         paths.model(args.model), paths.run(args.model), inputs.get("init"))
    else:
        from .models import fetch_hub_model

        fetch_hub_model(args.model, spec.source, spec.revision, spec.template, paths.model(args.model))


def cmd_teacher(args) -> None:
    from .teacher import run_teacher

    params = _params(args)
    paths = Paths(params)
    camel = [n for n, d in params.datasets.items() if d.kind == "camel"]
    report = run_teacher(params, paths.model(params.teacher),
                         paths.data(params.train_data) / "train.jsonl", paths.traces,
                         paths.traces_report,
                         camel_file=paths.data(camel[0]) / "train.jsonl" if camel else None)
    print(json.dumps(report))


def cmd_train(args) -> None:
    from .io import read_jsonl
    from .models import read_meta
    from .train.common import claim_run_dir

    params = _params(args)
    paths = Paths(params)
    if args.model not in params.students:
        raise ValueError(f"unknown student {args.model!r} (students: {params.students})")
    stage = parse_pipeline(args.pipeline)[-1]
    inputs = train_inputs(params, args.model, args.pipeline)
    start = inputs["start"]
    lineage = [*read_meta(start)["lineage"], stage]
    out, run = paths.model(args.model, args.pipeline), paths.run(args.model, args.pipeline)
    claim_run_dir(run, params, train_sections(args.pipeline), list(inputs.values()))
    if stage == "kd":
        from .train.kd import run_kd

        traces = read_jsonl(inputs["traces"], required=("question", "answer", "cot"))
        summary = run_kd(params, start, inputs["teacher"], out, run, traces, lineage)
    else:
        rows = read_jsonl(inputs["data"] / "train.jsonl", required=("question", "answer", "cot"))
        if stage == "rl":
            from .train.rl import run_rl

            summary = run_rl(params, start, out, run, rows, lineage)
        else:
            from .train.sft import run_sft

            summary = run_sft(params, start, out, run, rows, lineage, lora=stage == "lora")
    print(json.dumps({k: summary[k] for k in ("global_step", "resumed_from", "train_runtime_s")}))


def cmd_eval(args) -> None:
    from .evaluate import run_eval

    params = _params(args)
    paths = Paths(params)
    benches = args.bench or params.eval.benchmarks
    unknown = [b for b in benches if b not in params.datasets]
    if unknown:
        raise ValueError(f"unknown benchmark {unknown[0]!r}: not a key of datasets "
                         f"({sorted(params.datasets)})")
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
    sub.add_parser("dvc", help="print dvc.yaml for these params").set_defaults(fn=cmd_dvc)
    args = parser.parse_args(argv)
    try:
        args.loaded_params = load_params(args.params)
        for warning in apply_cpu_numerics(args.loaded_params):  # before any stage imports torch
            print(f"srlm {args.command}: warning: {warning}", file=sys.stderr)
        args.fn(args)
    except (ParamsError, ValueError, RuntimeError, FileNotFoundError) as err:
        print(f"srlm {args.command}: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
