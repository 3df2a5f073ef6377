"""One list of pins: constraints.txt. The install, environment.yml and the Dockerfile read it, and no
other file pins a version of its own (so the three cannot drift apart)."""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
import tomllib
from importlib.metadata import PackageNotFoundError, version

import yaml

from .conftest import REPO

PIN = re.compile(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==([0-9][^\s\"',;]*)")
STACK = {"torch", "transformers", "trl", "peft", "accelerate", "datasets", "math-verify", "snakemake",
         "snakemake-executor-plugin-slurm", "dvc", "deepspeed", "numpy", "vllm"}
GPU_ONLY = {"vllm"}
"""Installed by the container and ``pip install .[gpu]`` only, never on a CPU machine (make, conda)."""


def _norm(name: str) -> str:
    return name.lower().replace("_", "-")


def constraints() -> dict[str, str]:
    out = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        match = PIN.match(line.split("#")[0].strip())
        if match:
            out[_norm(match.group(1))] = match.group(2)
    return out


def test_constraints_pin_the_stack():
    pins = constraints()
    assert STACK <= set(pins), STACK - set(pins)


def test_no_other_file_pins_a_version():
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    deps = pyproject["dependencies"] + [d for g in pyproject["optional-dependencies"].values() for d in g]
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    conda = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    docker = (REPO / "Dockerfile").read_text().replace("\\\n", " ").split()
    makefile = (REPO / "Makefile").read_text().split()
    for where, items in (("pyproject.toml", deps), ("environment.yml", conda), ("Dockerfile", docker),
                         ("Makefile", makefile)):
        pinned = [i for i in items if PIN.match(i.strip().strip('"')) and
                  _norm(PIN.match(i.strip().strip('"')).group(1)) in STACK]
        assert not pinned, f"{where} pins {pinned}: versions belong in constraints.txt"
    assert any("constraints.txt" in c for c in conda), "environment.yml does not read constraints.txt"
    assert "/tmp/constraints.txt" in docker and "--constraint" in docker
    assert "constraints.txt" in makefile


def test_this_environment_is_the_pinned_stack():
    """The suite runs on the versions it pins (a green CI means the pinned stack works)."""
    pins = constraints()
    for name in STACK - {"deepspeed"} - GPU_ONLY:
        assert version(name).split("+")[0] == pins[name], f"{name} {version(name)} != {pins[name]}"
    for name in GPU_ONLY:
        with contextlib.suppress(PackageNotFoundError):  # a GPU host's environment
            assert version(name).split("+")[0] == pins[name], f"{name} {version(name)} != {pins[name]}"


def test_vllm_only_on_gpu_installs():
    """vLLM (pinned in constraints.txt) is in the ``gpu`` extra and the container, not on CPU set-ups."""
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = pyproject["optional-dependencies"]
    names = {n: {_norm(re.split(r"[\[<>=!~; ]", d)[0]) for d in deps} for n, deps in extras.items()}
    assert "vllm" in names["gpu"] and "vllm" not in names["test"]
    assert "vllm" not in {_norm(re.split(r"[\[<>=!~; ]", d)[0]) for d in pyproject["dependencies"]}
    assert "vllm" not in (REPO / "Makefile").read_text().lower()
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    conda = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert not any("vllm" in c or "[gpu]" in c for c in conda), conda
    assert "vllm" in (REPO / "Dockerfile").read_text().replace("\\\n", " ").split()


def test_pins_resolve_together():
    """pip accepts the CPU set with its dependencies (a dry run over what is installed); the GPU set,
    vLLM with its CUDA wheels, was resolved the same way with --use-feature=fast-deps (README)."""
    cpu = [f"{name}=={v}" for name, v in constraints().items() if name not in GPU_ONLY]
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "-q", *cpu],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
