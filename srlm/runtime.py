"""Runtime set-up every computing stage shares: the device (and its check), seeds, threads."""

from __future__ import annotations

from .config import Params


class DeviceError(RuntimeError):
    """The params ask for a GPU and none is visible."""


def resolve_device(params: Params) -> str:
    import torch

    if params.device == "cuda" and not torch.cuda.is_available():
        raise DeviceError(f"profile {params.profile!r} sets device: cuda but no CUDA GPU is visible; "
                          "run it on a GPU host or use a CPU profile (params/tiny.yaml)")
    if params.device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return params.device


def setup(params: Params, threads: int | None = None) -> str:
    """Seed, thread count and device for a stage; returns the device."""
    import torch
    from transformers import set_seed

    device = resolve_device(params)
    torch.set_num_threads(threads or params.threads)
    set_seed(params.seed)
    return device
