"""Where each stage writes: one place, read by the stage declarations (:mod:`srlm.stages`).

Paths carry the graph: ``models/{model}/{pipeline}`` is built from ``models/{model}/{prefix}`` (the
pipeline minus its last stage) or from ``models/{model}/init`` for a one-stage pipeline.
"""

from __future__ import annotations

from pathlib import Path

from .config import Params, parse_pipeline

INIT = "init"


PAPER_PROFILE = "paper"
"""The profile whose tables are ``results/table{n}.*`` (``snakemake results/table2.csv`` means the paper);
every other profile writes ``results/{profile}/table{n}.*``."""


class Paths:
    def __init__(self, params: Params, results: str | Path = "results"):
        self.root = Path(params.workdir)
        self.results = Path(results) if params.profile == PAPER_PROFILE else Path(results) / params.profile

    def data(self, dataset: str) -> Path:
        return self.root / "data" / dataset

    @property
    def tokenizer(self) -> Path:
        return self.root / "models" / "_tokenizer"

    def model(self, name: str, pipeline: str = INIT) -> Path:
        return self.root / "models" / name / pipeline

    def run(self, name: str, pipeline: str = INIT) -> Path:
        """Checkpoints and TensorBoard logs of a training run (kept across interruptions)."""
        return self.root / "runs" / name / pipeline

    @staticmethod
    def parent(pipeline: str) -> str:
        """The pipeline a stage starts from: ``sft-kd-rl`` -> ``sft-kd``; ``rl`` -> ``init``."""
        stages = parse_pipeline(pipeline)
        return "-".join(stages[:-1]) or INIT

    @property
    def traces(self) -> Path:
        return self.root / "traces" / "traces.jsonl"

    @property
    def traces_report(self) -> Path:
        return self.root / "traces" / "report.json"

    def eval(self, name: str, pipeline: str, bench: str) -> Path:
        return self.root / "eval" / name / pipeline / f"{bench}.json"

    def samples(self, name: str, pipeline: str, bench: str) -> Path:
        return self.root / "eval" / name / pipeline / f"{bench}.samples.jsonl"

    def table(self, n: int, ext: str = "csv") -> Path:
        return self.results / f"table{n}.{ext}"
