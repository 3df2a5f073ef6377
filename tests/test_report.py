"""The report, published counterparts, cost columns and ``srlm plan`` on a synthetic run (no training):
a few seconds. The report of a real graph run, in the browser too: tests/test_infra.py."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from srlm import published
from srlm.config import load_params
from srlm.cost import cell_cost, chain, drop_cost
from srlm.paths import INIT, Paths
from srlm.plan import estimate, graph, makespan
from srlm.stages import table_runs

from .browser import need_chromium, painted_colours, rendered, screenshot
from .conftest import REPO

BENCH = "gsm8k"
BENCH_HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
PROTOCOL = {"template": "plain", "decoding": "greedy pass@1", "temperature": 0.0, "top_p": 1.0, "k": 1,
            "seeds": [1], "max_new_tokens": 24, "few_shot": 0, "few_shot_ids": [], "backend": "hf",
            "prompt_format": "Question: {question}\nAnswer:", "stop_strings": ["Question:"],
            "grading": {"extractor": "last number"}, "interval": "95% Wilson over the 20 problems"}


def _bench(path: Path, wall: float, rss: float, cpu: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(BENCH_HEADER + f"{wall}\t0:00:10\t{rss}\t0\t0\t0\t0\t0\t50\t{cpu}\n")


def _train_log(model_dir: Path, rl: bool, tokens: int) -> None:
    model_dir.mkdir(parents=True, exist_ok=True)
    extra = {"reward": 0.5, "frac_reward_zero_std": 0.25, "completions/mean_length": 12.0,
             "entropy": 1.0} if rl else {}
    history = [{"step": s, "loss": 2.0 / s, "num_tokens": tokens * s / 4, **extra} for s in (1, 2, 3, 4)]
    (model_dir / "train_log.json").write_text(json.dumps({"global_step": 4, "log_history": history}))


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple:
    """Metrics, samples, training logs and benchmark files of a made-up run of a nano variant whose
    base is named as the hub's Qwen2.5-0.5B and evaluated on GSM8K (so it has published counterparts)."""
    root = tmp_path_factory.mktemp("report")
    params = load_params(REPO / "tests/nano.yaml", {
        "workdir": str(root / "work"), "eval": {"benchmarks": [BENCH]},
        "models": {"base": {"source": "Qwen/Qwen2.5-0.5B"}},
        "tables": {"table1": ["base", "teacher"], "table2": ["sft", "rl"], "table3": ["sft-rl"]}})
    paths = Paths(params, root / "results")
    runs = {run for n in (1, 2, 3) for run in table_runs(params, n)}
    for i, (model, pipeline) in enumerate(sorted(runs)):
        right = 5 + 3 * i
        samples = [{"id": f"p{j}", "correct": j < right} for j in range(20)]
        out = paths.samples(model, pipeline, BENCH)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("".join(json.dumps(s) + "\n" for s in samples))
        metrics = {"accuracy": 100 * right / 20, "ci95": [100 * right / 20 - 10, 100 * right / 20 + 10],
                   "n": 20, "samples": 20, "mean_new_tokens": 10.0, "protocol": PROTOCOL}
        paths.eval(model, pipeline, BENCH).write_text(json.dumps(metrics))
        _bench(paths.root / "benchmarks/eval" / model / f"{pipeline}.tsv", 10.0, 400.0, 8.0)
    for model in ("base", "teacher"):
        _bench(paths.root / "benchmarks/model" / f"{model}.tsv", 30.0, 500.0, 25.0)
        _train_log(paths.model(model), rl=False, tokens=1000)
    for pipeline in ("sft", "rl", "sft-rl"):
        _bench(paths.root / "benchmarks/train/base" / f"{pipeline}.tsv", 20.0, 600.0, 15.0)
        _train_log(paths.model("base", pipeline), rl=pipeline.endswith("rl"), tokens=400)
    from srlm.tables import write_table

    for n in (1, 2, 3):
        write_table(params, paths, n)
    return params, paths


def test_cost_columns_last_and_summed_over_the_chain(run):
    params, paths = run
    header = paths.table(3, "csv").read_text().splitlines()[0].split(",")
    assert header.index(f"p_{BENCH}") < header.index("cost_tokens_trained") and header[-1].startswith("cost_")
    assert "cost_train_s" not in header, "a wall-clock column in the table: tables would differ run to run"
    cost_header = paths.table(3, "cost.csv").read_text().splitlines()[0].split(",")
    assert cost_header[:2] == ["model", "pipeline"] and "cost_train_s" in cost_header
    assert chain("sft-kd-rl") == ["sft", "sft-kd", "sft-kd-rl"] and chain(INIT) == [INIT]
    cost = cell_cost(params, paths, "base", "sft-rl")  # train sft + train sft-rl, then its evaluation
    assert cost["cost_train_s"] == 40.0 and cost["cost_eval_s"] == 10.0
    assert cost["cost_cpu_h"] == pytest.approx((15 + 15 + 8) / 3600, rel=1e-3)
    assert cost["cost_tokens_trained"] == 800 and cost["cost_tokens_generated"] == 200
    assert cost["cost_peak_rss_mb"] == 600
    assert math.isnan(cell_cost(params, paths, "base", "kd")["cost_train_s"])  # never ran: empty
    text = paths.table(2, "csv").read_text()
    assert "cost_" not in drop_cost(text) and drop_cost(text).splitlines()[1].startswith("tiny-base,none")
    md = paths.table(2, "md").read_text()  # base none 36.7 and base rl 49.5 on GSM8K (SimpleRL-Zoo)
    assert "## Published counterparts" in md and "| 36.7 |" in md and "| 49.5 |" in md


def test_published_counterparts_of_the_paper_profile():
    paper = load_params(REPO / "params/paper.yaml")
    ours = {b: 50.0 for b in paper.eval.benchmarks}
    rl = published.counterparts(paper, "instruct", "rl", ours)
    assert {(r["source"], r["score"]) for r in rl} == {("paper", 54.0), ("verl", 56.7), ("verl", 58.7),
                                                        ("verl", 54.3)}
    assert next(r for r in rl if r["source"] == "paper")["delta"] == -4.0
    base = published.counterparts(paper, "base", INIT, ours)
    assert {r["benchmark"] for r in base} >= {"gsm8k", "math500", "minerva_math", "olympiadbench", "amc23"}
    assert all(r["url"].startswith("https://") and r["protocol_text"] for r in base + rl)
    assert published.counterparts(load_params(REPO / "params/tiny.yaml"), "base", INIT, ours) == []


def test_plan_jobs_dependencies_and_totals(run):
    params, paths = run
    jobs = {j.name: j for j in graph(params, "tests/nano.yaml")}
    assert {"model-base", "data-tinyworld"} <= jobs["train-base-sft"].deps
    assert jobs["train-base-sft-rl"].deps >= {"train-base-sft"}
    assert jobs["report"].deps == {"table1", "table2", "table3", *(n for n in jobs if n.startswith("eval-"))}
    estimated = estimate(params, "tests/nano.yaml")
    by = {j.name: j for j in estimated}
    assert by["train-base-sft"].source == "measured: benchmarks/train/base/sft.tsv"
    assert by["train-base-sft"].seconds == 20.0 and by["train-base-sft"].mem_mb == 600.0
    assert by["tokenizer"].source.startswith("rate: cpu.") and by["tokenizer"].seconds > 0
    total = sum(j.seconds for j in estimated)
    assert makespan(params, estimated, 1) == pytest.approx(total)
    assert makespan(params, estimated, 4) < total


def test_report_renders_in_a_browser(run, tmp_path):
    """The page holds the tables, figures and sections; chromium lays them out and decodes the
    figures; the screenshot is not blank."""
    params, paths = run
    from srlm.report import report_path, write_report

    page = write_report(params, paths, report_path(params, paths.results), "tests/nano.yaml")
    text = page.read_text()
    assert text.count('<table class="results"') == 3 and "Cost of each cell" in text
    need_chromium()
    seen = rendered(page, tmp_path)
    assert seen["title"] == "srlm report: nano"
    assert seen["sections"] == ["tables", "published", "curves", "protocol", "cost"]
    assert seen["tables"] >= 6 and seen["images"] == seen["decoded"] == 5  # 3 bar charts, 2 curve sets
    assert "tiny-base" in seen["text"] and "sft-rl" in seen["text"]
    assert "36.7" in seen["text"] and "SimpleRL-Zoo" in seen["text"]  # base / none and base / rl
    assert painted_colours(screenshot(page, tmp_path / "shot.png", height=1600)) > 50
