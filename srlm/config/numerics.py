"""``cpu_numerics``: the same CPU kernels (and so the same bytes) on every x86-64 machine."""

from __future__ import annotations

import os
from pathlib import Path

from .params import Params

CPU_NUMERICS_ENV = {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2"}
"""What ``cpu_numerics: avx2`` sets: the kernel paths of PyTorch's own ops, MKL (matmuls) and oneDNN."""


def cpu_has_avx2() -> bool:
    """Is this an x86-64 CPU with AVX2 (where ``cpu_numerics: avx2`` can hold)?"""
    import platform

    cpuinfo = Path("/proc/cpuinfo")
    return (platform.machine().lower() in ("x86_64", "amd64")
            and (not cpuinfo.exists() or " avx2" in cpuinfo.read_text()))


def apply_cpu_numerics(params: Params) -> list[str]:
    """Pin the CPU kernels' code paths (``params.cpu_numerics``) for this process and its children.

    Must run before torch is imported (the libraries read these variables once, at start-up).
    Returns warnings: the setting cannot hold on a CPU without AVX2 (an ARM machine, say)."""
    import platform
    import sys

    if params.cpu_numerics == "native":
        return []
    warnings = []
    if "torch" in sys.modules:
        warnings.append("cpu_numerics: torch was imported before the CPU kernels were pinned")
    if not cpu_has_avx2():
        warnings.append(f"cpu_numerics: avx2, but this CPU ({platform.machine()}) has no AVX2: results "
                        "will differ from those of x86-64 machines")
        return warnings
    os.environ.update(CPU_NUMERICS_ENV)
    return warnings
