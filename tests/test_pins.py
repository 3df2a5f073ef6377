"""The Dockerfile, environment.yml and pyproject.toml pin one known-good set: the same versions."""

from __future__ import annotations

import re
import tomllib

import yaml

from .conftest import REPO

PIN = re.compile(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==([0-9][^\s\"',;]*)$")


def _pins(items) -> dict[str, str]:
    out = {}
    for item in items:
        match = PIN.match(item.strip().strip('"'))
        if match:
            out[match.group(1).lower().replace("_", "-")] = match.group(2)
    return out


def test_pins_agree():
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    deps = pyproject["dependencies"] + [d for g in pyproject["optional-dependencies"].values() for d in g]
    py = _pins(deps)
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    conda = _pins(next(d["pip"] for d in env["dependencies"] if isinstance(d, dict)))
    docker_text = (REPO / "Dockerfile").read_text().replace("\\\n", " ")
    docker = _pins(token for token in docker_text.split())
    assert {"torch", "transformers", "trl", "peft", "datasets", "snakemake", "dvc"} <= set(docker)
    for name, version in docker.items():
        if name in py:
            assert py[name] == version, f"{name}: Dockerfile {version}, pyproject {py[name]}"
        if name in conda:
            assert conda[name] == version, f"{name}: Dockerfile {version}, environment.yml {conda[name]}"
    for name, version in conda.items():
        assert py.get(name, version) == version, f"{name}: environment.yml {version}, pyproject {py[name]}"
