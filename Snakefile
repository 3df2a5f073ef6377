# srlm: the study as one graph.
#   dataset -> (tiny tokenizer/models | hub models) -> teacher traces -> SFT / KD / RL chains
#   -> evaluation -> results/table{1,2,3}.{csv,md,png} -> results/{profile}/report.html
# Params file: --config params=params/tiny.yaml (default params/paper.yaml, or $SRLM_PARAMS).
import os

from srlm import paths
from srlm.config import digest, load_params
from srlm.paths import (
    DATA_SECTIONS,
    EVAL_SECTIONS,
    INIT,
    TEACHER_SECTIONS,
    Paths,
    model_sections,
    rule_resources,
    train_launcher,
    train_sections,
)

PARAMS_FILE = config.get("params", os.environ.get("SRLM_PARAMS", "params/paper.yaml"))
P = load_params(PARAMS_FILE)  # validated before any job starts
PATHS = Paths(P)
ROOT = str(PATHS.root)
SRLM = f"srlm --params {PARAMS_FILE}"
TRAIN = f"{train_launcher(P)} --params {PARAMS_FILE}"  # torchrun when a training rule has GPUs > 1
STAGE = "(sft|lora|kd|rl)"
PIPELINE = f"{STAGE}(-{STAGE})*"

wildcard_constraints:
    model="|".join(P.models),
    dataset="|".join(P.datasets),
    pipeline=PIPELINE,
    n="[123]",


include: "rules/data.smk"
include: "rules/models.smk"
include: "rules/teacher.smk"
include: "rules/train.smk"
include: "rules/eval.smk"
include: "rules/tables.smk"
include: "rules/report.smk"

report: "report/workflow.rst"  # snakemake --report results/PROFILE/snakemake-report.html


rule all:
    input:
        [str(PATHS.table(n, ext)) for n in (1, 2, 3) for ext in ("csv", "md", "png")],
        REPORT,
