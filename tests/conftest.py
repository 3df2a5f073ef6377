"""Shared fixtures: paths to the repo, the offline data mirror and the params files."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MIRROR = Path(os.environ.get("SRLM_MIRROR", REPO.parent / "shared" / "data"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def mirror() -> Path:
    if not (MIRROR / "gsm8k" / "test.jsonl").is_file():
        pytest.fail(f"offline data mirror not found at {MIRROR} (set SRLM_MIRROR)")
    return MIRROR


@pytest.fixture
def tiny_raw() -> dict:
    from srlm.config import read_raw

    return read_raw(REPO / "params" / "tiny.yaml")


def tool_env(**extra: str) -> dict[str, str]:
    """The environment for subprocesses (snakemake, srlm, dvc): this interpreter's bin first."""
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", **extra}


HEAVY_FIRST = ("test_standin_graph.py", "test_pipeline.py", "test_infra.py")
"""Files whose graphs take minutes: collected first, so pytest-xdist (``--dist loadfile``) starts them
first and the short files fill the other workers meanwhile."""


def pytest_collection_modifyitems(session, config, items) -> None:
    def rank(item) -> int:
        name = Path(str(item.fspath)).name
        return HEAVY_FIRST.index(name) if name in HEAVY_FIRST else len(HEAVY_FIRST)

    items.sort(key=rank)  # stable: the order within a file is kept
