"""Bad input stops a stage with a clear error and a non-zero exit."""

from __future__ import annotations

import subprocess
import sys

from .conftest import REPO


def srlm(cwd, params, *args):
    return subprocess.run([sys.executable, "-m", "srlm.cli", "--params", str(params), *args],
                          cwd=cwd, capture_output=True, text=True)


def test_gpu_profile_without_gpu(tmp_path):
    proc = srlm(tmp_path, REPO / "params" / "paper.yaml", "eval", "--model", "base", "--bench", "gsm8k")
    assert proc.returncode == 2
    assert "device: cuda but no CUDA GPU is visible" in proc.stderr


def test_unknown_model_and_dataset(tmp_path):
    proc = srlm(tmp_path, REPO / "params" / "tiny.yaml", "model", "--model", "qwen-72b")
    assert proc.returncode == 2 and "unknown model 'qwen-72b'" in proc.stderr
    proc = srlm(tmp_path, REPO / "params" / "tiny.yaml", "data", "--dataset", "mmlu")
    assert proc.returncode == 2 and "unknown dataset 'mmlu'" in proc.stderr
    proc = srlm(tmp_path, REPO / "params" / "tiny.yaml", "eval", "--model", "base", "--bench", "mmlu")
    assert proc.returncode == 2 and "unknown benchmark 'mmlu'" in proc.stderr


def test_hub_unreachable_is_an_error(tmp_path):
    """No mirror and no hub: the data stage fails naming the repo and revision."""
    params = tmp_path / "p.yaml"
    params.write_text(f"extends: {REPO / 'params' / 'tiny.yaml'}\nmirror: {tmp_path / 'none'}\n")
    proc = subprocess.run([sys.executable, "-m", "srlm.cli", "--params", str(params), "data",
                           "--dataset", "gsm8k"], cwd=tmp_path, capture_output=True, text=True,
                          env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 2
    assert "cannot download openai/gsm8k@main" in proc.stderr
    assert not (tmp_path / "work").exists() or not any((tmp_path / "work").rglob("*.jsonl"))
