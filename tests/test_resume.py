"""A killed training stage leaves no finished-looking output and resumes from its last checkpoint."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import REPO

PARAMS = REPO / "tests" / "resume.yaml"


def srlm(cwd: Path, *args: str, check: bool = True, params: Path = PARAMS) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "srlm.cli", "--params", str(params), *args],
                          cwd=cwd, capture_output=True, text=True)
    if check:
        assert proc.returncode == 0, proc.stderr[-4000:]
    return proc


def copy_base(base: Path, dest: Path) -> None:
    """The built data, tokenizer and base model of the ``base`` fixture, copied into ``dest``."""
    for rel in ("data", "models/_tokenizer", "models/base/init"):
        shutil.copytree(base / "work/resume" / rel, dest / "work/resume" / rel)


def build_base(cwd: Path) -> Path:
    """Data, tokenizer and base model of the resume settings, built in ``cwd`` by the CLI."""
    srlm(cwd, "data", "--dataset", "tinyworld")
    srlm(cwd, "tokenizer")
    srlm(cwd, "model", "--model", "base")
    return cwd


def built_once(tmp_path_factory, name: str, make: Callable[[Path], dict]) -> tuple[Path, dict]:
    """A folder ``make`` fills once per test run, whichever test file (or pytest-xdist worker) asks
    first; the others wait for it, then read it. ``make`` returns a JSON record kept beside it.
    Callers copy the folder and never change it."""
    import fcntl

    base = tmp_path_factory.getbasetemp()
    root = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "built-once"
    root.mkdir(exist_ok=True)
    folder, record = root / name, root / f"{name}.json"
    with open(root / f".{name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not record.is_file():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            record.write_text(json.dumps(make(folder)))
    return folder, json.loads(record.read_text())


def shared_base(tmp_path_factory) -> Path:
    """:func:`build_base`, built once for the test files that start from it."""
    return built_once(tmp_path_factory, "resume-base", lambda cwd: {"built": str(build_base(cwd))})[0]


def shared_sft(tmp_path_factory) -> tuple[Path, dict]:
    """One uninterrupted SFT run of the resume settings on :func:`shared_base` (model and checkpoints)
    and the CLI's summary of it, trained once for the tests that start from a finished training."""
    def train(cwd: Path) -> dict:
        copy_base(shared_base(tmp_path_factory), cwd)
        return json.loads(srlm(cwd, "train", "--model", "base", "--pipeline", "sft")
                          .stdout.strip().splitlines()[-1])

    return built_once(tmp_path_factory, "resume-sft", train)


def copy_sft(trained: Path, dest: Path) -> None:
    """The finished SFT run of :func:`shared_sft` (its model and run directory), copied into ``dest``."""
    for rel in ("models/base/sft", "runs/base/sft"):
        shutil.copytree(trained / "work/resume" / rel, dest / "work/resume" / rel, symlinks=True)


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    return shared_base(tmp_path_factory)


@pytest.mark.parametrize("pipeline,first_ckpt,steps", [("sft", 8, 40), ("rl", 4, 16)])
def test_kill_then_resume(base, tmp_path, pipeline, first_ckpt, steps):
    copy_base(base, tmp_path)
    runs = tmp_path / "work/resume/runs/base" / pipeline
    out = tmp_path / "work/resume/models/base" / pipeline
    proc = subprocess.Popen([sys.executable, "-m", "srlm.cli", "--params", str(PARAMS), "train",
                             "--model", "base", "--pipeline", pipeline], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.time() + 240
    while not any((runs / f"checkpoint-{k}" / "trainer_state.json").exists()
                  for k in range(first_ckpt, steps, first_ckpt)):
        assert proc.poll() is None, "training ended before it could be killed"
        assert time.time() < deadline, "no checkpoint appeared"
        time.sleep(0.2)
    time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not out.exists(), "a killed stage left an output that looks complete"

    done = srlm(tmp_path, "train", "--model", "base", "--pipeline", pipeline)
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["resumed_from"] and "checkpoint-" in summary["resumed_from"]
    assert summary["global_step"] == steps
    assert (out / "model.safetensors").exists()


def test_changed_params_train_afresh(base, tmp_path, tmp_path_factory):
    """Checkpoints of other params are not resumed: after a hyperparameter change the stage
    trains from its start again (old checkpoints moved aside), so the new table is the new run's."""
    copy_base(base, tmp_path)
    trained, first = shared_sft(tmp_path_factory)  # a finished run of the params, trained afresh
    copy_sft(trained, tmp_path)
    model = tmp_path / "work/resume/models/base/sft/model.safetensors"
    weights = model.read_bytes()
    params = tmp_path / "lr.yaml"
    params.write_text(f"extends: {PARAMS}\nsft:\n  full: {{lr: 1.0e-3}}\n")
    rerun = srlm(tmp_path, "train", "--model", "base", "--pipeline", "sft", params=params)
    second = json.loads(rerun.stdout.strip().splitlines()[-1])
    assert first["resumed_from"] is None and second["resumed_from"] is None
    assert second["global_step"] == first["global_step"] == 40
    assert "made from other inputs or params" in rerun.stdout
    assert list((tmp_path / "work/resume/runs/base/sft.stale").glob("*/checkpoint-40")), "old set lost"
    assert model.read_bytes() != weights


def test_full_logits_loss_matches_trl_chunked_head(base, tmp_path):
    """``chunked_lm_head: false`` (the model's own loss over full logits) trains like TRL's chunked
    LM head (the default): the same losses step for step, so the switch changes speed, not the method."""
    from srlm.config import load_params
    from srlm.io import read_jsonl
    from srlm.train.sft import run_sft

    rows = read_jsonl(base / "work/resume/data/tinyworld/train.jsonl")
    losses = {}
    for chunked in (True, False):
        params = load_params(PARAMS, {"sft": {"full": {"max_steps": 8, "logging_steps": 1,
                                                        "chunked_lm_head": chunked}}})
        out = tmp_path / f"chunked-{chunked}"
        log = run_sft(params, base / "work/resume/models/base/init", out, tmp_path / f"run-{chunked}",
                      rows, ["base", "sft"])["log_history"]
        losses[chunked] = [h["loss"] for h in log if "loss" in h]
        # TRL's chunked head logs token accuracy; the model's own loss does not (the other path ran)
        assert any("mean_token_accuracy" in h for h in log) == chunked
    assert len(losses[True]) == 8 and losses[True][-1] < losses[True][0]
    assert losses[False] == pytest.approx(losses[True], rel=1e-3)


def test_single_process_deepspeed(base, tmp_path):
    """The trainers' DeepSpeed ZeRO-2 path (multi-GPU runs), single process on CPU: it trains,
    checkpoints DeepSpeed state, and saves a plain model."""
    copy_base(base, tmp_path)
    params = tmp_path / "deepspeed.yaml"
    params.write_text(f"extends: {PARAMS}\n"
                      f"distributed: {{deepspeed: {REPO}/params/deepspeed/zero2.json, min_gpus: 0}}\n")
    srlm(tmp_path, "train", "--model", "base", "--pipeline", "sft", params=params)
    summary = json.loads((tmp_path / "work/resume/models/base/sft/train_log.json").read_text())
    losses = [h["loss"] for h in summary["log_history"] if "loss" in h]
    assert summary["global_step"] == 40 and losses[-1] < losses[0]
    runs = tmp_path / "work/resume/runs/base/sft"
    assert list(runs.glob("checkpoint-*/global_step*/*optim_states.pt")), "no DeepSpeed checkpoint"
    assert (tmp_path / "work/resume/models/base/sft/model.safetensors").exists()


def test_same_seed_same_weights(base, tmp_path):
    """Data, tokenizer and model building are deterministic: the same bytes from the same seeds."""
    srlm(tmp_path, "data", "--dataset", "tinyworld")
    srlm(tmp_path, "tokenizer")
    srlm(tmp_path, "model", "--model", "base")
    for rel in ("data/tinyworld/train.jsonl", "models/_tokenizer/tokenizer.json",
                "models/base/init/model.safetensors"):
        a = (base / "work/resume" / rel).read_bytes()
        b = (tmp_path / "work/resume" / rel).read_bytes()
        assert a == b, f"{rel} differs between two builds with the same seed"


def test_grpo_lora_is_merged(base, tmp_path):
    """GRPO on LoRA adapters (``rl.lora_adapter``): the adapters train and are merged on save, so the
    next stage and the evaluation load a plain model."""
    from safetensors.torch import load_file

    copy_base(base, tmp_path)
    params = tmp_path / "lora-rl.yaml"
    params.write_text(f"extends: {PARAMS}\n"
                      "rl:\n  train: {lr: 1.0e-3, max_steps: 4, batch_size: 16, max_length: 192, "
                      "save_steps: 100, logging_steps: 2}\n"
                      "  lora_adapter: {r: 4, alpha: 8, dropout: 0.0}\n")
    srlm(tmp_path, "train", "--model", "base", "--pipeline", "rl", params=params)
    out = tmp_path / "work/resume/models/base/rl"
    assert not (out / "adapter_config.json").exists()
    before = load_file(tmp_path / "work/resume/models/base/init/model.safetensors")
    after = load_file(out / "model.safetensors")
    assert before.keys() == after.keys(), "the saved model is not a plain (merged) model"
    assert any((before[k] - after[k]).abs().max() > 0 for k in before), "LoRA GRPO changed nothing"
