"""Progress with an ETA on every long loop (generation batches, grading, teacher sampling, training):
shown on a terminal, off otherwise (a Snakemake or SLURM job's log), ``SRLM_PROGRESS=1`` forces it on,
``SRLM_PROGRESS=0`` off."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def enabled() -> bool:
    forced = os.environ.get("SRLM_PROGRESS")
    if forced in ("0", "1"):
        return forced == "1"
    return sys.stderr.isatty()


def progress(iterable: Iterable[T], desc: str, total: int | None = None, unit: str = "it") -> Iterator[T]:
    """``iterable`` with a progress bar (count, rate, ETA) when :func:`enabled`."""
    if not enabled():
        yield from iterable
        return
    from tqdm import tqdm

    yield from tqdm(iterable, desc=desc, total=total, unit=unit, mininterval=1, dynamic_ncols=True)
