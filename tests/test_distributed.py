"""Multi-process training for real: two CPU processes under ``torchrun`` (gloo), the launcher line a
training rule with ``resources.gpu.gpus: 2`` gets, for SFT and GRPO, plain DDP and DeepSpeed ZeRO-2/3.

The global batch is the single-process one (per-device batch halved), so SFT's losses match the
single-process run's to float32 rounding (``SFT_REL``); GRPO's samples are each rank's own draws, so
its curve is compared across DDP/ZeRO-2/ZeRO-3 exactly and to one process statistically
(docs/distributed.md has the measurements and the reasoning).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from .conftest import REPO, tool_env
from .test_resume import PARAMS, copy_base, shared_base, srlm

STEPS = 16
SAVE = 4
SFT_REL = 1e-5
"""Relative tolerance on SFT's per-step loss (and grad norm), 1 vs 2 processes: measured <= 3e-7."""
GRPO_LOSS = 0.05
"""Absolute tolerance on GRPO's mean loss over the steps, 1 vs 2 processes (seeds spread ~0.02)."""
W = "work/resume"


def variant(folder: Path, name: str, pipeline: str, procs: int, deepspeed: str | None = None) -> Path:
    """Params: STEPS steps logged each step; two processes halve the per-device batch (global 16)."""
    section = "sft:\n  full" if pipeline == "sft" else "rl:\n  train"
    ds = (f"{{deepspeed: {REPO}/params/deepspeed/{deepspeed}.json, min_gpus: 2}}" if deepspeed
          else "{deepspeed: null}")
    path = folder / f"{name}.yaml"
    path.write_text(f"extends: {PARAMS}\n"
                    f"{section}: {{max_steps: {STEPS}, logging_steps: 1, save_steps: {SAVE}, "
                    f"batch_size: {16 // procs}}}\n"
                    f"resources: {{gpu: {{gpus: {procs}}}}}\n"
                    f"distributed: {ds}\n")
    return path


def launcher(params: Path, pipeline: str) -> list[str]:
    """The command line the Snakefile runs for this params file's training rule."""
    from srlm.config import load_params
    from srlm.stages import STAGES
    from srlm.stages import launcher as stage_launcher

    line = shlex.split(stage_launcher(load_params(params), STAGES["train"]))
    assert line[0] == "torchrun" and "--nproc_per_node" in line
    return [*line, "--params", str(params), "train", "--model", "base", "--pipeline", pipeline]


def torchrun(cwd: Path, params: Path, pipeline: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(launcher(params, pipeline), cwd=cwd, capture_output=True, text=True,
                          env=tool_env(), timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-6000:]
    return proc


def history(model_dir: Path) -> list[dict]:
    log = json.loads((model_dir / "train_log.json").read_text())
    assert log["global_step"] == STEPS
    return [h for h in log["log_history"] if "loss" in h]


def assert_sft_matches(single: list[dict], multi: list[dict]) -> None:
    assert len(multi) == len(single) == STEPS
    for key in ("loss", "grad_norm"):
        diff = max(abs(a[key] - b[key]) / abs(a[key]) for a, b in zip(single, multi))
        print(f"{key}: max relative difference 1 vs 2 processes {diff:.2e}")
        assert diff <= SFT_REL, (key, [a[key] for a in single], [b[key] for b in multi])


def assert_one_set(root: Path, pipeline: str, deepspeed: bool, launches: int = 1) -> None:
    """One run directory of whole checkpoints (both ranks' states in each), one TensorBoard event
    file per launch (rank 0's), one final model with real weights of the init's shapes."""
    from safetensors.torch import load_file

    runs = root / W / "runs/base"
    assert [p.name for p in runs.iterdir() if p.name[0] != "." and p.name != "init"] == [pipeline]
    assert sorted(p.name for p in (root / W / "models/base").iterdir()) == ["init", pipeline]
    ckpts = sorted(runs.glob(f"{pipeline}/checkpoint-*"))
    assert ckpts and all((c / "srlm_checkpoint.json").is_file() for c in ckpts)
    for ckpt in ckpts:
        assert sorted(p.name for p in ckpt.glob("rng_state_*.pth")) == ["rng_state_0.pth",
                                                                        "rng_state_1.pth"]
        shards = sorted(p.name for p in ckpt.glob("global_step*/*optim_states.pt"))
        assert len(shards) == (2 if deepspeed else 0), shards
    assert len(list(runs.glob(f"{pipeline}/runs/*/events.out.tfevents.*"))) == launches
    init = load_file(root / W / "models/base/init/model.safetensors")
    out = load_file(root / W / f"models/base/{pipeline}/model.safetensors")
    assert out.keys() == init.keys()
    assert all(out[k].shape == init[k].shape and out[k].numel() for k in init)
    assert any((out[k] - init[k]).abs().max() > 0 for k in init), "training changed nothing"


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """The data, tokenizer and base model of tests/test_resume.py's fixture (built once for both)."""
    return shared_base(tmp_path_factory)


@pytest.fixture(scope="module")
def single(base, tmp_path_factory) -> dict[str, tuple[list[dict], Path]]:
    """Single-process reference runs (SFT, GRPO): their logged steps and final model."""
    out = {}
    for pipeline in ("sft", "rl"):
        cwd = tmp_path_factory.mktemp(f"single-{pipeline}")
        copy_base(base, cwd)
        srlm(cwd, "train", "--model", "base", "--pipeline", pipeline,
             params=variant(cwd, "single", pipeline, 1))
        out[pipeline] = history(cwd / W / f"models/base/{pipeline}"), cwd / W / f"models/base/{pipeline}"
    return out


def test_sft_ddp_through_snakemake(base, single, tmp_path):
    """A training rule with 2 "GPUs" on CPU: Snakemake runs the torchrun line a GPU host would,
    DDP trains with the single-process losses, and writes one checkpoint set and one model."""
    copy_base(base, tmp_path)
    params = variant(tmp_path, "ddp", "sft", 2)
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(tmp_path),
           "--cores", "2", "--config", f"params={params}", "--printshellcmds",
           f"{W}/models/base/sft"]
    dry = subprocess.run([*cmd, "--dry-run"], cwd=tmp_path, capture_output=True, text=True,
                         env=tool_env())
    assert dry.returncode == 0, dry.stderr[-3000:]
    jobs = [line.removeprefix("Shell command: ") for line in (dry.stdout + dry.stderr).splitlines()
            if "torchrun" in line]
    assert jobs == [shlex.join(launcher(params, "sft")) + f" 2> {W}/logs/train/base/sft.log"], \
        dry.stdout[-3000:]
    run = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, env=tool_env(), timeout=300)
    assert run.returncode == 0, run.stderr[-3000:] + (tmp_path / W / "logs/train/base/sft.log").read_text()
    assert_sft_matches(single["sft"][0], history(tmp_path / W / "models/base/sft"))
    assert_one_set(tmp_path, "sft", deepspeed=False)


def test_sft_zero2(base, single, tmp_path):
    """ZeRO-2 (optimizer states and gradients sharded) over two processes: the same losses, each
    rank's optimizer shard in the one checkpoint set."""
    copy_base(base, tmp_path)
    torchrun(tmp_path, variant(tmp_path, "zero2", "sft", 2, "zero2"), "sft")
    assert_sft_matches(single["sft"][0], history(tmp_path / W / "models/base/sft"))
    assert_one_set(tmp_path, "sft", deepspeed=True)


def test_sft_zero3_kill_then_resume(base, single, tmp_path):
    """ZeRO-3 (parameters sharded too), killed after a checkpoint and rerun: it resumes, its losses
    are the single-process ones, and the saved model holds the gathered weights (not the empty
    per-rank slices), equal to the single-process model's; a rerun after the end saves them again."""
    from safetensors.torch import load_file

    copy_base(base, tmp_path)
    params = variant(tmp_path, "zero3", "sft", 2, "zero3")
    runs, out = tmp_path / W / "runs/base/sft", tmp_path / W / "models/base/sft"
    proc = subprocess.Popen(launcher(params, "sft"), cwd=tmp_path, env=tool_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 240
    while not any((runs / f"checkpoint-{k}/srlm_checkpoint.json").exists()
                  for k in range(SAVE, STEPS, SAVE)):
        assert proc.poll() is None, "training ended before it could be killed"
        assert time.time() < deadline, "no checkpoint appeared"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not out.exists(), "a killed stage left an output that looks complete"

    done = torchrun(tmp_path, params, "sft")
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["resumed_from"] and "checkpoint-" in summary["resumed_from"], done.stdout[-2000:]
    assert summary["global_step"] == STEPS
    assert_sft_matches(single["sft"][0], history(out))
    assert_one_set(tmp_path, "sft", deepspeed=True, launches=2)
    ref, got = load_file(single["sft"][1] / "model.safetensors"), load_file(out / "model.safetensors")
    assert max((ref[k] - got[k]).abs().max().item() for k in ref) < 1e-4

    weights = (out / "model.safetensors").read_bytes()  # a rerun after the end: the last checkpoint,
    shutil.rmtree(out)                                   # loaded sharded, gathered and saved
    again = torchrun(tmp_path, params, "sft")
    assert "is at the end of the schedule" in again.stdout
    assert (out / "model.safetensors").read_bytes() == weights


@pytest.fixture(scope="module")
def grpo_ddp(base, tmp_path_factory) -> list[dict]:
    cwd = tmp_path_factory.mktemp("grpo-ddp")
    copy_base(base, cwd)
    torchrun(cwd, variant(cwd, "ddp", "rl", 2), "rl")
    assert_one_set(cwd, "rl", deepspeed=False)
    return history(cwd / W / "models/base/rl")


def test_grpo_ddp_matches_single_process(single, grpo_ddp):
    """GRPO over two processes draws other samples than one process (each rank its own), so the
    curves agree in distribution, not step for step: the same mean loss within GRPO_LOSS, rewards
    and completion lengths of the same size, and it learns from a group at some step."""
    one, two = single["rl"][0], grpo_ddp
    mean = {k: [sum(h[k] for h in run) / len(run) for run in (one, two)]
            for k in ("loss", "reward", "completions/mean_length")}
    print({k: [round(v, 4) for v in pair] for k, pair in mean.items()})
    assert abs(mean["loss"][0] - mean["loss"][1]) <= GRPO_LOSS
    assert abs(mean["reward"][0] - mean["reward"][1]) <= 0.15
    assert abs(mean["completions/mean_length"][0] - mean["completions/mean_length"][1]) <= 6
    assert any(h["grad_norm"] > 0 for h in two)


@pytest.mark.parametrize("zero", ["zero2", "zero3"])
def test_grpo_zero_matches_ddp(base, grpo_ddp, tmp_path, zero):
    """With the same two ranks (so the same samples), ZeRO-2 and ZeRO-3 give DDP's GRPO steps."""
    copy_base(base, tmp_path)
    torchrun(tmp_path, variant(tmp_path, zero, "rl", 2, zero), "rl")
    got = history(tmp_path / W / "models/base/rl")
    for key in ("loss", "grad_norm", "reward", "completions/mean_length"):
        assert [h[key] for h in got] == pytest.approx([h[key] for h in grpo_ddp], rel=SFT_REL,
                                                      abs=1e-7), key
    assert_one_set(tmp_path, "rl", deepspeed=True)


RANK = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from srlm.config import load_params
    from srlm.train.resume import claim_run_dir, last_checkpoint
    run = Path(sys.argv[1])
    with claim_run_dir(run, load_params(sys.argv[2]), ["seed"], []):
        print("resume", last_checkpoint(run), flush=True)
        time.sleep(float(sys.argv[3]))
""")


def test_other_ranks_wait_for_this_launchs_claim(tmp_path):
    """A rerun under torchrun: the run directory already holds these inputs' fingerprint (and a
    claim of the earlier launch), so only this launch's claim lets rank 1 go, after rank 0 has
    moved the broken newest checkpoint aside; rank 1 takes no lock meanwhile."""
    from srlm.config import load_params
    from srlm.train.resume import RUN_INPUTS, SEAL, fingerprint, run_lock

    run = tmp_path / "run"
    for step in (2, 4):
        (run / f"checkpoint-{step}").mkdir(parents=True)
        (run / f"checkpoint-{step}/trainer_state.json").write_text(json.dumps({"global_step": step}))
    (run / f"checkpoint-4/{SEAL}").write_text(json.dumps({"trainer_state.json": "0" * 64}))  # broken
    (run / RUN_INPUTS).write_text(json.dumps(fingerprint(load_params(PARAMS), ["seed"], [])))
    (tmp_path / ".run.claim").write_text(json.dumps({"launch": "an earlier launch", "inputs": "x"}))

    env = {**os.environ, "WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "2", "TORCHELASTIC_RUN_ID": "this-one",
           "TORCHELASTIC_RESTART_COUNT": "0", "MASTER_ADDR": "localhost", "MASTER_PORT": "29500"}

    def rank(r: int, hold: float) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-c", RANK, str(run), str(PARAMS), str(hold)],
                                cwd=REPO, env={**env, "RANK": str(r)}, stdout=subprocess.PIPE,
                                text=True)

    other = rank(1, 0)
    time.sleep(2)
    assert other.poll() is None, "rank 1 went ahead on an earlier launch's claim"
    assert (run / "checkpoint-4").is_dir()
    with run_lock(run):  # rank 1 holds no lock
        pass
    zero = rank(0, 1)
    out0, out1 = zero.communicate(timeout=120)[0], other.communicate(timeout=120)[0]
    assert zero.returncode == other.returncode == 0
    assert "checkpoint-4 cannot be resumed" in out0
    assert out0.strip().endswith(f"resume {run / 'checkpoint-2'}")
    assert out1.strip() == f"resume {run / 'checkpoint-2'}"
    assert (tmp_path / "run.broken/checkpoint-4").is_dir()
