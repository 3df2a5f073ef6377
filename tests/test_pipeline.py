"""The whole graph on a small setting of the tiny profile: real learning, EOS, tables, determinism."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from srlm.cost import drop_cost

from .conftest import MIRROR, REPO, tool_env

MICRO = REPO / "tests" / "micro.yaml"


def run_graph(workdir: Path, *targets: str) -> subprocess.CompletedProcess:
    env = tool_env(SRLM_MIRROR=str(MIRROR))  # the graph runs in a temporary directory
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir),
           "--cores", "2", "--config", f"params={MICRO}", "--quiet", "rules", *targets]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return proc


@pytest.fixture(scope="session")
def micro(tmp_path_factory) -> Path:
    workdir = tmp_path_factory.mktemp("micro")
    run_graph(workdir)
    return workdir


def metrics(root: Path, model: str, pipeline: str) -> dict:
    return json.loads((root / "work/micro/eval" / model / pipeline / "tinyworld.json").read_text())


def train_log(root: Path, model: str, pipeline: str) -> list[dict]:
    path = root / "work/micro/models" / model / pipeline / "train_log.json"
    return json.loads(path.read_text())["log_history"]


def _trend(history: list[dict], key: str) -> tuple[float, float]:
    values = [h[key] for h in history if key in h]
    assert len(values) >= 4, f"too few logged {key}: {values}"
    third = max(1, len(values) // 3)
    return sum(values[:third]) / third, sum(values[-third:]) / third


def test_tables_written(micro):
    for n in (1, 2, 3):
        for ext in ("csv", "md", "png"):
            assert (micro / "results/micro" / f"table{n}.{ext}").stat().st_size > 0
    t2 = pd.read_csv(micro / "results/micro/table2.csv")
    assert list(t2["pipeline"]) == ["none", "sft", "lora", "kd", "rl"]
    assert t2["tinyworld"].nunique() > 2  # methods give different numbers
    assert ((t2["tinyworld_lo"] <= t2["tinyworld"]) & (t2["tinyworld"] <= t2["tinyworld_hi"])).all()
    assert t2["p_tinyworld"].between(0, 1).all() and t2["p_tinyworld"].iloc[0] == 1.0
    sft = t2.set_index("pipeline").loc["sft"]
    assert sft["p_tinyworld"] < 0.05, sft  # SFT's gain is beyond evaluation noise (paired test)
    assert "95% Wilson interval" in (micro / "results/micro/table2.md").read_text()
    assert (t2["gsm8k_n"] == 20).all()  # the real-data smoke column: GSM8K test, graded end to end
    smoke = [json.loads(line) for line in (micro / "work/micro/eval/base/sft/gsm8k.samples.jsonl").open()]
    assert len(smoke) == 20 and all(s["gold"] and "correct" in s for s in smoke)
    t1 = pd.read_csv(micro / "results/micro/table1.csv")
    assert list(t1["model"]) == ["tiny-base", "tiny-teacher"]


def accuracy(model_dir: Path, rows: list[dict], template: str) -> float:
    """Greedy accuracy (%) of a model prompted with a given template."""
    from srlm.generation import generate_hf
    from srlm.grading import grade
    from srlm.models import load_model, render_prompt

    model, tok, _ = load_model(model_dir)
    prompts = [render_prompt(tok, r["question"], template) for r in rows]
    outs = generate_hf(model, tok, prompts, 48, 256)
    return 100 * sum(grade(c[0].text.split("\nQuestion:")[0], r["answer"])["correct"]
                     for r, c in zip(rows, outs)) / len(rows)


@pytest.fixture(scope="session")
def test_rows(micro) -> list[dict]:
    return [json.loads(line) for line in (micro / "work/micro/data/tinyworld/test.jsonl").open()]


def test_sft_lora_kd_learn(micro, test_rows):
    """Each chat-format trainer beats its starting point in the format it trains, and its loss falls."""
    start = accuracy(micro / "work/micro/models/base/init", test_rows, "chat")
    for pipeline in ("sft", "lora", "kd"):
        acc = metrics(micro, "base", pipeline)["accuracy"]
        assert acc > start + 5, f"{pipeline}: {acc} vs {start} before training (chat template)"
        first, last = _trend(train_log(micro, "base", pipeline), "loss")
        assert last < 0.7 * first, f"{pipeline}: loss {first:.3f} -> {last:.3f}"
    assert metrics(micro, "base", "sft")["accuracy"] > metrics(micro, "base", "init")["accuracy"]


def test_teacher_is_strong_and_traces_verified(micro):
    teacher = metrics(micro, "teacher", "init")["accuracy"]
    assert teacher > metrics(micro, "base", "init")["accuracy"]
    report = json.loads((micro / "work/micro/traces/report.json").read_text())
    assert 0 < report["sample_yield"] <= 1 and report["traces_kept"] > 100
    from srlm.grading import grade

    traces = [json.loads(line) for line in (micro / "work/micro/traces/traces.jsonl").open()]
    assert all(grade(t["cot"], t["answer"])["correct"] for t in traces)


def test_rl_trains_without_damage(micro):
    """GRPO changes the policy, logs zero-std groups, and does not lose greedy accuracy.

    (In the miniature GRPO is roughly neutral; see README.)"""
    from safetensors.torch import load_file

    work = micro / "work/micro/models/base"
    before, after = load_file(work / "init/model.safetensors"), load_file(work / "rl/model.safetensors")
    assert any((before[k] - after[k]).abs().max() > 1e-4 for k in before)
    base = metrics(micro, "base", "init")["accuracy"]
    assert metrics(micro, "base", "rl")["accuracy"] >= base - 3
    history = train_log(micro, "base", "rl")
    logged = [h["frac_reward_zero_std"] for h in history if "frac_reward_zero_std" in h]
    assert len(logged) >= 4 and all(0 <= f <= 1 for f in logged)


def test_base_learns_to_stop_after_chat_sft(micro):
    """A plain-text base model, chat-tuned, ends its turn with <|im_end|> instead of rambling."""
    m = metrics(micro, "base", "sft")
    assert m["protocol"]["template"] == "chat"
    assert m["stopped_fraction"] > 0.95
    samples = [json.loads(line) for line in
               (micro / "work/micro/eval/base/sft/tinyworld.samples.jsonl").open()]
    assert all("<|im_end|>" not in s["completion"] and "<|im_start|>" not in s["completion"]
               for s in samples)
    ended = [s for s in samples if s["stopped"]]
    assert sum(s["completion"].rstrip().splitlines()[-1].startswith("####") for s in ended) > \
        0.9 * len(ended)
    meta = json.loads((micro / "work/micro/models/base/sft/srlm_model.json").read_text())
    assert meta["lineage"] == ["base", "sft"] and meta["template"] == "chat"
    gen = json.loads((micro / "work/micro/models/base/sft/generation_config.json").read_text())
    tok = json.loads((micro / "work/micro/models/base/sft/tokenizer_config.json").read_text())
    assert tok["eos_token"] == "<|im_end|>" and len(gen["eos_token_id"]) == 2


def test_tensorboard_logs(micro):
    events = list((micro / "work/micro/runs/base/sft").rglob("events.out.tfevents.*"))
    assert events


def test_job_benchmarks(micro):
    """Every training and evaluation job records its wall time and memory; bench/jobs.py sums them."""
    assert (micro / "work/micro/benchmarks/train/base/sft.tsv").is_file()
    proc = subprocess.run([sys.executable, str(REPO / "bench/jobs.py"), str(micro / "work/micro")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    rules = {line.split()[0] for line in proc.stdout.split("rule ")[1].splitlines()[1:]}
    assert {"model", "teacher", "train", "eval", "all"} <= rules, proc.stdout


def test_same_seeds_same_tables(micro, tmp_path_factory):
    """Rerun the most stochastic stage (GRPO: sampled rollouts, then training) and its evaluation from
    the same inputs: the tables and the trained model are byte-identical. (One leaf of the graph, so
    nothing else reruns; data, tokenizer and the SFTTrainer path that builds the models:
    tests/test_resume.py.)"""
    again = tmp_path_factory.mktemp("micro-again")
    shutil.copytree(micro / "work", again / "work", symlinks=True)
    for kind in ("models", "runs", "eval"):
        shutil.rmtree(again / "work/micro" / kind / "base/rl")
    run_graph(again)
    for n in (1, 2, 3):  # the results; the cost columns (wall time, memory) differ run to run
        a = drop_cost((micro / "results/micro" / f"table{n}.csv").read_text())
        b = drop_cost((again / "results/micro" / f"table{n}.csv").read_text())
        assert a == b, f"table{n} differs between two runs with the same seeds"
    first = micro / "work/micro/models/base/rl"  # the checkpoint too, byte for byte (DVC hashes agree)
    for path in sorted(first.iterdir()):
        second = again / "work/micro/models/base/rl" / path.name
        assert path.read_bytes() == second.read_bytes(), f"rl/{path.name} differs"


def test_logit_kd_with_gkd(micro, tmp_path):
    """Token-level KD (TRL GKDTrainer, forward KL) lowers the divergence to the teacher."""
    from srlm.config import load_params
    from srlm.io import read_jsonl
    from srlm.train.kd import run_kd

    work = micro / "work/micro"
    params = load_params(MICRO, {"workdir": str(work), "kd": {"mode": "logit", "train": {
        "max_steps": 30, "lr": 3.0e-3, "batch_size": 16, "logging_steps": 5, "save_steps": 100,
        "chunked_lm_head": True}}})  # micro's kd.train sets false, which GKD does not take
    traces = read_jsonl(work / "traces/traces.jsonl")
    summary = run_kd(params, work / "models/base/init", work / "models/teacher/init",
                     tmp_path / "gkd", tmp_path / "gkd-run", traces, ["base", "kd"])
    first, last = _trend(summary["log_history"], "loss")
    assert last < 0.7 * first, f"GKD loss {first:.3f} -> {last:.3f}"
    assert json.loads((tmp_path / "gkd/srlm_model.json").read_text())["kd_mode"] == "logit"
