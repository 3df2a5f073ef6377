"""The paper profile's stand-in (params/paper-standin.yaml) as one graph: the real Qwen2.5 tokenizer
and conventions, the real benchmarks, the CAMEL trace format, every stage, the three tables. For one
student and table 3's longest chain (tests/standin.yaml: the base, whose conventions change with chat
training; sft-kd-rl)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from .conftest import REPO, tool_env

PROFILE = "paper-standin"
PARAMS = REPO / "tests" / "standin.yaml"
BENCHES = ["gsm8k", "math500", "aime24", "aime25", "amc23", "minerva_math", "olympiadbench"]


@pytest.fixture(scope="module")
def graph(tmp_path_factory, mirror) -> Path:
    root = tmp_path_factory.mktemp("standin")
    for name in ("Snakefile", "rules", "params", "report", "references"):
        os.symlink(REPO / name, root / name)
    targets = [f"results/{PROFILE}/table{n}.csv" for n in (1, 2, 3)]
    proc = subprocess.run(["snakemake", "--cores", "2", *targets, "--config",
                           f"params={PARAMS}"], cwd=root, capture_output=True, text=True,
                          env=tool_env(SRLM_MIRROR=str(mirror)))
    assert proc.returncode == 0, proc.stderr[-5000:]
    return root


def test_table1_has_the_seven_benchmarks_with_their_counts(graph):
    t1 = pd.read_csv(graph / f"results/{PROFILE}/table1.csv")
    assert list(t1["model"]) == ["Qwen2.5-0.5B stand-in", "Qwen2.5-0.5B-Instruct stand-in",
                                 "Qwen2.5-7B-Instruct stand-in"]
    limits = {"gsm8k": 4, "math500": 4, "aime24": 2, "aime25": 2, "amc23": 2, "minerva_math": 3,
              "olympiadbench": 3}
    for bench in BENCHES:
        assert (t1[f"{bench}_n"] == limits[bench]).all(), bench
    for bench in ("aime24", "aime25", "amc23"):  # avg@k over seeds, shown as such
        assert (t1[f"{bench}_k"] == 2).all() and (t1[f"{bench}_seeds"] == 4).all()
    md = (graph / f"results/{PROFILE}/table1.md").read_text()
    assert "aime24 (avg@2, 4 seeds; 95% CI)" in md and "gsm8k (greedy; 95% CI)" in md


def test_every_stage_ran_on_the_qwen_conventions(graph):
    work = graph / "work" / PROFILE
    t2, t3 = (pd.read_csv(graph / f"results/{PROFILE}/table{n}.csv") for n in (2, 3))
    assert set(t2["pipeline"]) == {"none", "sft", "lora", "kd", "rl"}
    assert set(t3["pipeline"]) == {"none", "sft-kd-rl"}
    base, inst = (json.loads((work / f"models/{m}/init/tokenizer_config.json").read_text())
                  for m in ("base", "instruct"))
    assert base["eos_token"] == "<|endoftext|>" and inst["eos_token"] == "<|im_end|>"
    report = json.loads((work / "traces/report.json").read_text())
    assert report["source"] == "camel" and 0 < report["traces_kept"] < report["samples"]  # rejected some
    protocol = json.loads((work / "eval/base/init/gsm8k.json").read_text())["protocol"]
    assert protocol["template"] == "plain"
    chat = json.loads((work / "eval/base/sft/gsm8k.json").read_text())["protocol"]
    assert chat["template"] == "chat"  # the SFT'd base is prompted through Qwen2.5's chat template
    sft_tok = json.loads((work / "models/base/sft/tokenizer_config.json").read_text())
    sft_gen = json.loads((work / "models/base/sft/generation_config.json").read_text())
    assert sft_tok["eos_token"] == "<|im_end|>"  # chat-trained base: stops on <|im_end|> or <|endoftext|>
    assert sft_gen["eos_token_id"] == [151645, 151643]
    for rl in ("rl", "sft-kd-rl"):  # GRPO with the base's plain prompt, and with the chat template
        rl_log = json.loads((work / f"models/base/{rl}/train_log.json").read_text())
        assert rl_log["global_step"] == 2 and any("frac_reward_zero_std" in h for h in rl_log["log_history"])
    chain = json.loads((work / "models/base/sft-kd-rl/srlm_model.json").read_text())
    assert chain["lineage"] == ["base", "sft", "kd", "rl"] and chain["template"] == "chat"
