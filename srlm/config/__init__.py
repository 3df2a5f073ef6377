"""The params schema: one validated model of the study, shared by Snakemake, DVC and the CLI.

A params file is YAML. ``extends: other.yaml`` deep-merges this file over another one. Every key is
checked on load: an unknown key or a bad value raises :class:`ParamsError` naming the key, before any
compute starts. The sections: :mod:`.sources` (models, datasets, the CPU profile's world),
:mod:`.training` (SFT, KD, GRPO, traces), :mod:`.evaluation` (benchmarks, tables), :mod:`.params`
(the whole file); :mod:`.loading` reads a file, :mod:`.numerics` pins the CPU kernels.
"""

from .base import METHODS, ParamsError, Strict, parse_pipeline
from .evaluation import GSM8K_STYLE, BenchmarkSpec, EvalSpec, SamplingSpec, TablesSpec
from .loading import has_key, load_params, params_chain, read_raw, read_text
from .numerics import CPU_NUMERICS_ENV, apply_cpu_numerics, cpu_has_avx2
from .params import TRAIN_SPECS, DistributedSpec, Params, Resources, digest
from .sources import DatasetSpec, ModelSpec, StandinSpec, TinyArch, TinyBuildSpec, TinyWorldSpec
from .training import SFT_ONLY, KdSpec, LoraSpec, RewardSpec, RlSpec, SftSpec, TracesSpec, TrainSpec

__all__ = [
    "CPU_NUMERICS_ENV", "GSM8K_STYLE", "METHODS", "SFT_ONLY", "TRAIN_SPECS", "BenchmarkSpec",
    "DatasetSpec", "DistributedSpec", "EvalSpec", "KdSpec", "LoraSpec", "ModelSpec", "Params",
    "ParamsError", "Resources", "RewardSpec", "RlSpec", "SamplingSpec", "SftSpec", "StandinSpec",
    "Strict", "TablesSpec", "TinyArch", "TinyBuildSpec", "TinyWorldSpec", "TracesSpec", "TrainSpec",
    "apply_cpu_numerics", "cpu_has_avx2", "digest", "has_key", "load_params", "params_chain",
    "parse_pipeline", "read_raw", "read_text",
]
