"""One list of pins: constraints.txt. The install, environment.yml and the Dockerfile read it, and no
other file pins a version of its own (so the three cannot drift apart)."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from importlib.metadata import version

import yaml

from .conftest import REPO

PIN = re.compile(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==([0-9][^\s\"',;]*)")
STACK = {"torch", "transformers", "trl", "peft", "accelerate", "datasets", "math-verify", "snakemake",
         "snakemake-executor-plugin-slurm", "dvc", "deepspeed"}


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
    for name in STACK - {"deepspeed"}:
        assert version(name).split("+")[0] == pins[name], f"{name} {version(name)} != {pins[name]}"


def test_pins_resolve_together():
    """pip accepts the whole list with its dependencies (a dry run over what is installed)."""
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "-q",
                           "-r", str(REPO / "constraints.txt")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
