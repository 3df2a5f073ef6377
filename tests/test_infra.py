"""Infrastructure on the nano setting (tests/nano.yaml): every rule runs, in seconds.

- ``dvc repro`` regenerates the same tables as Snakemake through the same commands;
- a local DVC remote round-trip restores data and checkpoints with the same hashes;
- changing one hyperparameter reruns exactly its dependants (DVC and Snakemake);
- the graph through the SLURM profile on a real single-node SLURM gives the local tables (it is the
  Snakemake run the DVC test compares with, when SLURM answers), and a training job requeued by the
  scheduler (preemption) resumes from its last checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from srlm.config import load_params
from srlm.cost import drop_cost
from srlm.plan import graph as plan_graph
from srlm.stages import command, job_name, jobs
from srlm.view import covered

from .browser import dump_dom, need_chromium, rendered
from .conftest import REPO, tool_env

PARAMS = "tests/nano.yaml"
ROOT = "work/nano"
TABLES = [f"results/nano/table{n}.csv" for n in (1, 2, 3)]  # every profile but the paper: results/{profile}/
RL_DEPENDANTS = {"train-base-rl", "train-base-sft-rl", "eval-base-rl", "eval-base-sft-rl",
                 "table2", "table3"}


def sh(cmd: list[str], cwd: Path, timeout: int = 900) -> str:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=tool_env(), timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    return proc.stdout + proc.stderr


def project(root: Path) -> Path:
    """A fresh project directory: params, the package source (a DVC dependency), git and DVC."""
    root.mkdir(parents=True, exist_ok=True)
    for rel in ("params/tiny.yaml", PARAMS):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / rel, root / rel)
    shutil.copytree(REPO / "srlm", root / "srlm", ignore=shutil.ignore_patterns("__pycache__"))
    return root


def snakemake(root: Path, *extra: str, dry: bool = False) -> str:
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(root),
           "--cores", "2", "--config", f"params={PARAMS}", *extra]
    return sh(cmd + (["--dry-run", "--printshellcmds"] if dry else []), root)


def tree_hashes(root: Path, *paths: str) -> dict[str, str]:
    out = {}
    for rel in paths:
        for f in [root / rel] if (root / rel).is_file() else sorted((root / rel).rglob("*")):
            if f.is_file() and f.name != ".gitignore":  # DVC's own bookkeeping
                out[str(f.relative_to(root))] = hashlib.sha256(f.read_bytes()).hexdigest()
    return out


def set_rl_lr(root: Path, lr: str) -> None:
    path = root / PARAMS
    text, n = re.subn(r"(rl:\n  train: \{lr: )[^,]+", rf"\g<1>{lr}", path.read_text())
    assert n == 1
    path.write_text(text)


def slurm_up() -> bool:
    """A SLURM controller answers. CI (``.ci/run``) starts one and sets SRLM_REQUIRE_SLURM, so there
    its absence fails; elsewhere (no root, no slurm-wlm) the SLURM tests are skipped."""
    up = False
    if shutil.which("sinfo"):
        proc = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True)
        up = proc.returncode == 0 and bool(re.search(r"idle|mix|alloc", proc.stdout))
    if not up and os.environ.get("SRLM_REQUIRE_SLURM"):
        pytest.fail("SRLM_REQUIRE_SLURM is set but no SLURM controller answers (sinfo)")
    return up


@pytest.fixture(scope="session")
def graph_run(tmp_path_factory) -> tuple[Path, str]:
    """The nano graph run once by Snakemake, through the SLURM profile where SLURM answers (so the
    graph is not run twice), else locally; the project directory and Snakemake's log."""
    root = project(tmp_path_factory.mktemp("nano-snakemake"))
    if slurm_up():
        return root, snakemake(root, "--profile", str(REPO / "profiles/slurm"), "--slurm-status-command",
                               "squeue", "--slurm-init-seconds-before-status-checks", "2", "--jobs", "2")
    return root, snakemake(root, "--quiet", "rules")


def test_dvc_repro_matches_snakemake_and_remote_round_trip(graph_run, tmp_path):
    """``dvc repro`` (local processes) writes the tables Snakemake wrote (under CI: as SLURM jobs)."""
    snakemake_root = graph_run[0]
    root = project(tmp_path / "dvc")
    sh(["git", "init", "-q"], root)
    sh(["dvc", "init", "-q"], root)
    sh(["dvc", "config", "core.analytics", "false"], root)
    (root / "dvc.yaml").write_text(sh(["srlm", "--params", PARAMS, "dvc"], root))
    sh(["dvc", "repro"], root)
    for table in TABLES:  # the results; the cost columns are wall-clock (and DVC writes no benchmarks)
        assert drop_cost((root / table).read_text()) == drop_cost((snakemake_root / table).read_text()), table
    assert "train-base-sft-rl" in (root / "dvc.lock").read_text()

    # Remote round-trip: push, lose the cache and the outputs, pull: same bytes.
    cached = [f"{ROOT}/data", f"{ROOT}/models", f"{ROOT}/traces/traces.jsonl"]
    before = tree_hashes(root, *cached)
    sh(["dvc", "remote", "add", "-d", "store", str(tmp_path / "remote")], root)
    sh(["dvc", "push"], root)
    shutil.rmtree(root / ".dvc/cache")
    for rel in cached:
        (root / rel).unlink() if (root / rel).is_file() else shutil.rmtree(root / rel)
    sh(["dvc", "pull"], root)
    assert tree_hashes(root, *cached) == before
    assert "up to date" in sh(["dvc", "status"], root).lower()

    # dvc status names exactly the stages that read a changed key (srlm/stages.py), no others.
    original = (root / PARAMS).read_text()
    for key, value in KEY_EDITS:
        set_key(root, key, value)
        status = sh(["dvc", "status"], root)
        changed = set(re.findall(r"^([\w-]+):$", status, re.M))
        params = load_params(root / PARAMS)
        expected = {job_name(s, wc) for s, wc in jobs(params) if s.name != "report"
                    and covered(key, s.reads(params, wc))}
        assert changed == expected, (key, status)
        (root / PARAMS).write_text(original)

    # One hyperparameter changed: exactly its dependants rerun.
    set_rl_lr(root, "2.0e-4")
    ran = set(re.findall(r"Running stage '([^']+)'", sh(["dvc", "repro"], root)))
    # DVC compares content: a table reruns only if an evaluation it reads changed
    assert RL_DEPENDANTS - {"table2", "table3"} <= ran <= RL_DEPENDANTS | {"report"}


KEY_EDITS = [("rl.max_completion_length", 20), ("kd.temperature", 0.5), ("eval.max_new_tokens", 20),
             ("tiny.vocab_size", 336), ("datasets.gsm8k.revision", "v2")]
"""Keys of the nano profile changed one at a time: GRPO only, KD only, every evaluation, the CPU
profile's tokenizer (everything after it), and a key no job of the nano graph reads."""


def set_key(root: Path, dotted: str, value) -> None:
    path = root / PARAMS
    raw = yaml.safe_load(path.read_text())
    node = raw
    *parents, last = dotted.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value
    path.write_text(yaml.safe_dump(raw, sort_keys=False))


def predicted(root: Path, key: str) -> tuple[set[str], set[str]]:
    """From srlm/stages.py: the commands of the jobs that read ``key``, and of those with every job
    downstream of them."""
    params = load_params(root / PARAMS)
    graph = jobs(params)
    readers = {job_name(s, wc) for s, wc in graph if covered(key, s.reads(params, wc))}
    deps = {j.name: j.deps for j in plan_graph(params, PARAMS)}
    rerun = set(readers)
    while grown := {n for n, d in deps.items() if d & rerun} - rerun:
        rerun |= grown
    cmds = {job_name(s, wc): command(params, PARAMS, s, wc) for s, wc in graph}
    return {cmds[n] for n in readers}, {cmds[n] for n in rerun}


def test_snakemake_reruns_exactly_the_readers_of_a_key(graph_run, tmp_path):
    """A key's change reruns the jobs whose declared reads cover it and what follows them, as
    srlm/stages.py predicts (the DVC test checks ``dvc status`` against the same prediction)."""
    root = tmp_path / "copy"
    shutil.copytree(graph_run[0], root, symlinks=True)
    assert "Nothing to be done" in snakemake(root, dry=True)
    original = (root / PARAMS).read_text()
    for key, value in KEY_EDITS:
        set_key(root, key, value)
        dry = snakemake(root, dry=True)
        ran = set(re.findall(r"(srlm --params \S+ \w+.*?) 2>", dry))
        assert ran == predicted(root, key)[1], key
        (root / PARAMS).write_text(original)
    set_rl_lr(root, "2.0e-4")  # the readers of one hyperparameter, spelled out
    dry = snakemake(root, dry=True)
    jobs_run = set(re.findall(r"srlm --params \S+ (\w+) (.*?) 2>", dry))
    assert re.search(r"srlm --params \S+ report 2>", dry), "the report does not follow its tables"
    assert jobs_run == {
        ("train", "--model base --pipeline rl"), ("train", "--model base --pipeline sft-rl"),
        ("eval", "--model base --pipeline rl"), ("eval", "--model base --pipeline sft-rl"),
        ("tables", "--table 2"), ("tables", "--table 3"),
    }


@pytest.fixture(scope="session")
def slurm() -> None:
    if not slurm_up():
        pytest.skip("no SLURM here (start one with `.ci/slurm.sh start`)")


def test_slurm_profile_runs_the_graph(slurm, graph_run):
    """The whole nano graph ran as SLURM jobs (cpu and gpu partitions); that its tables equal a local
    run's is asserted by the DVC test, which compares ``dvc repro``'s local run with this one."""
    root, out = graph_run
    assert all((root / table).is_file() for table in TABLES)
    submitted = re.findall(r"submitted with SLURM jobid \d+ \(log: \S+/slurm_logs/rule_(\w+)/", out)
    assert {"data", "model", "teacher", "train", "eval", "tables"} <= set(submitted), submitted
    # The SLURM plugin of the pinned stack (2.6.1) does not print a job's resources, so the partition
    # a training job went to is not visible in Snakemake's log (issue note: to check on a cluster).


def squeue_state(job: str) -> str:
    return subprocess.run(["squeue", "-h", "-j", job, "-o", "%T"], capture_output=True,
                          text=True).stdout.strip()


def test_slurm_preempted_training_resumes(slurm, graph_run, tmp_path):
    """A training job requeued by the scheduler (as on preemption) resumes from its checkpoint."""
    root = tmp_path / "preempt"
    shutil.copytree(graph_run[0], root, symlinks=True)
    shutil.rmtree(root / ROOT / "models/base/sft")
    shutil.rmtree(root / ROOT / "runs/base/sft")
    (root / "tests/preempt.yaml").write_text(
        "extends: nano.yaml\nsft:\n  full: {lr: 1.0e-2, max_steps: 400, batch_size: 16, max_length: 128, "
        "save_steps: 10, logging_steps: 10}\n")
    srlm = Path(sys.executable).parent / "srlm"
    job = sh(["sbatch", "--parsable", "--requeue", "-p", "gpu", "-o", "job-%j.log", "--wrap",
              f"{srlm} --params tests/preempt.yaml train --model base --pipeline sft"], root).strip()
    runs, out = root / ROOT / "runs/base/sft", root / ROOT / "models/base/sft"
    deadline = time.time() + 300
    while not list(runs.glob("checkpoint-*/trainer_state.json")):
        assert time.time() < deadline, "no checkpoint appeared"
        time.sleep(0.5)
    sh(["scontrol", "requeue", job], root)
    # The finished model is the signal (squeue may briefly not list a job being requeued). SLURM holds
    # a requeued job back ~2 min (BeginTime) once it is pending again: release it then.
    while not (out / "train_log.json").is_file():
        assert time.time() < deadline + 300, "the requeued job did not finish"
        if squeue_state(job) == "PENDING":
            subprocess.run(["scontrol", "update", f"JobId={job}", "StartTime=now"], capture_output=True)
        time.sleep(1)
    summary = json.loads((out / "train_log.json").read_text())
    assert summary["global_step"] == 400
    log = (root / f"job-{job}.log").read_text()  # the requeued run's output (SLURM rewrites the file)
    done = json.loads([line for line in log.splitlines() if line.startswith('{"global_step"')][-1])
    assert done["resumed_from"] and "checkpoint-" in done["resumed_from"], log[-2000:]


def test_report_of_the_graph(graph_run, tmp_path):
    """The graph ends in its report (results/nano/report.html): a real browser lays out its tables and
    decodes its figures; each cell has its cost. ``snakemake --report`` bundles it with the tables."""
    root = graph_run[0]
    page = root / "results/nano/report.html"
    header, *rows = (root / "results/nano/table2.cost.csv").read_text().splitlines()
    assert header.split(",")[-6:] == ["cost_train_s", "cost_eval_s", "cost_cpu_h", "cost_tokens_trained",
                                      "cost_tokens_generated", "cost_peak_rss_mb"]
    assert all(float(v) > 0 for r in rows for v in r.split(",")[-6:]), rows
    table = (root / "results/nano/table2.csv").read_text().splitlines()[0].split(",")
    assert table[-2:] == ["cost_tokens_trained", "cost_tokens_generated"]  # deterministic cost only
    need_chromium()
    seen = rendered(page, tmp_path)
    assert seen["sections"] == ["tables", "published", "curves", "protocol", "cost"]
    assert seen["tables"] >= 6 and seen["images"] == seen["decoded"] == 5, seen | {"text": ""}
    assert "GRPO" in seen["text"] and "tiny-base" in seen["text"]
    bundle = tmp_path / "snakemake-report.html"
    snakemake(root, "--report", str(bundle))
    dump = dump_dom(bundle)  # Snakemake's page is a script: what it drew
    assert "Tables" in dump and "Report" in dump and "small Qwen2-style models" in dump
