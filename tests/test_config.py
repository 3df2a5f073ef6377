"""Params are validated on load: a typo or a bad value is an error naming the key."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from srlm.config import CPU_NUMERICS_ENV, ParamsError, cpu_has_avx2, load_params, parse_pipeline

from .conftest import REPO


def _write(tmp_path, raw: dict):
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_shipped_profiles_load():
    tiny = load_params(REPO / "params" / "tiny.yaml")
    paper = load_params(REPO / "params" / "paper.yaml")
    assert tiny.device == "cpu" and paper.device == "cuda"
    assert paper.sft.full.lr == 4e-5 and paper.sft.full.epochs == 4 and paper.sft.full.max_length == 8192
    assert paper.sft.lora.lr == 1e-4
    assert "sft-kd-rl" in tiny.pipelines() and "sft-kd" in tiny.pipelines()
    assert tiny.tinyworld.max_operand == 5 and tiny.rl.train.max_steps == 400
    # equal budgets: every method sees 3,200 training problems (SFT-type batch 32, GRPO 64 / 8 per prompt)
    assert tiny.sft.full.max_steps * tiny.sft.full.batch_size == 3200
    assert tiny.rl.train.max_steps * tiny.rl.train.batch_size // tiny.rl.num_generations == 3200


def test_unknown_key_is_named(tmp_path, tiny_raw):
    tiny_raw["sft"]["full"]["lrr"] = 1e-3
    with pytest.raises(ParamsError, match=r"sft\.full\.lrr: unknown key"):
        load_params(_write(tmp_path, tiny_raw))


def test_bad_value_is_named(tmp_path, tiny_raw):
    tiny_raw["rl"]["train"]["lr"] = -1
    with pytest.raises(ParamsError, match=r"rl\.train\.lr"):
        load_params(_write(tmp_path, tiny_raw))


def test_unknown_stage_and_model(tmp_path, tiny_raw):
    tiny_raw["tables"]["table3"] = ["sft-ppo"]
    with pytest.raises(ParamsError, match="unknown stage 'ppo'"):
        load_params(_write(tmp_path, tiny_raw))
    tiny_raw["tables"]["table3"] = ["sft-rl"]
    tiny_raw["students"] = ["base", "qwen-7b"]
    with pytest.raises(ParamsError, match="unknown model 'qwen-7b'"):
        load_params(_write(tmp_path, tiny_raw))


def test_grpo_batch_must_divide_by_group(tmp_path, tiny_raw):
    tiny_raw["rl"]["num_generations"] = 7
    with pytest.raises(ParamsError, match="divisible by rl.num_generations"):
        load_params(_write(tmp_path, tiny_raw))


def test_full_logits_loss_only_where_it_applies(tmp_path, tiny_raw):
    """``chunked_lm_head: false`` is an SFT-type setting: set on GRPO or GKD it is an error, not ignored."""
    tiny_raw["sft"]["full"]["chunked_lm_head"] = False
    assert not load_params(_write(tmp_path, tiny_raw)).sft.full.chunked_lm_head
    tiny_raw["rl"]["train"]["chunked_lm_head"] = False
    with pytest.raises(ParamsError, match="rl.train.chunked_lm_head: false applies to SFT"):
        load_params(_write(tmp_path, tiny_raw))
    del tiny_raw["rl"]["train"]["chunked_lm_head"]
    tiny_raw["kd"]["mode"] = "logit"
    tiny_raw["kd"]["train"]["chunked_lm_head"] = False
    with pytest.raises(ParamsError, match="kd.mode: logit"):
        load_params(_write(tmp_path, tiny_raw))


def test_pretrain_step_weights_need_one_per_step_count(tmp_path, tiny_raw):
    tiny_raw["tiny"]["pretrain_max_steps_per_problem"] = 3
    tiny_raw["tiny"]["pretrain_step_weights"] = [1, 1]
    with pytest.raises(ParamsError, match=r"tiny.*pretrain_step_weights \[1\.0, 1\.0\]: need 3"):
        load_params(_write(tmp_path, tiny_raw))


def test_extends_merges(tmp_path):
    child = tmp_path / "child.yaml"
    child.write_text(f"extends: {REPO / 'params' / 'tiny.yaml'}\nrl: {{train: {{lr: 5.0e-5}}}}\n")
    params = load_params(child)
    assert params.rl.train.lr == 5e-5 and params.rl.num_generations == 8


def test_parse_pipeline():
    assert parse_pipeline("sft-kd-rl") == ["sft", "kd", "rl"]
    with pytest.raises(ValueError):
        parse_pipeline("sft--rl")


def test_cli_reports_bad_params(tmp_path, tiny_raw):
    tiny_raw["eval"]["benchmark"] = ["tinyworld"]
    path = _write(tmp_path, tiny_raw)
    proc = subprocess.run([sys.executable, "-m", "srlm.cli", "--params", str(path), "check"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "eval.benchmark: unknown key" in proc.stderr


CAPABILITY = ("from srlm.config import apply_cpu_numerics, load_params; import sys; "
              "apply_cpu_numerics(load_params(sys.argv[1])); import torch; "
              "print(torch.backends.cpu.get_cpu_capability())")


def _capability(params_path) -> str:
    env = {k: v for k, v in os.environ.items() if k not in CPU_NUMERICS_ENV}
    proc = subprocess.run([sys.executable, "-c", CAPABILITY, str(params_path)], env=env,
                          capture_output=True, text=True, check=True)
    return proc.stdout.strip()


@pytest.mark.skipif(not cpu_has_avx2(), reason="needs an x86-64 AVX2 CPU (CI's machines have one)")
def test_cpu_numerics_pin_the_kernels(tmp_path, tiny_raw):
    """tiny.yaml's ``cpu_numerics: avx2`` makes PyTorch take its AVX2 kernels even on an AVX-512 CPU
    (the tables then match across such machines: README); ``native`` leaves the choice to PyTorch."""
    assert _capability(REPO / "params" / "tiny.yaml") == "AVX2"
    tiny_raw["cpu_numerics"] = "native"
    native = _capability(_write(tmp_path, tiny_raw))
    assert native in ("AVX2", "AVX512")
    if "avx512f" in Path("/proc/cpuinfo").read_text():
        assert native == "AVX512"
    tiny_raw["cpu_numerics"] = "sse"
    with pytest.raises(ParamsError, match="cpu_numerics"):
        load_params(_write(tmp_path, tiny_raw))


def test_cpu_numerics_warn_without_avx2(monkeypatch):
    """On a CPU without AVX2 (ARM, say) the pin cannot hold: a warning, and nothing is set."""
    import srlm.config

    for key in CPU_NUMERICS_ENV:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setattr(srlm.config.numerics, "cpu_has_avx2", lambda: False)
    warnings = srlm.config.apply_cpu_numerics(load_params(REPO / "params" / "tiny.yaml"))
    assert any("has no AVX2" in w for w in warnings)
    assert not any(key in os.environ for key in CPU_NUMERICS_ENV)
