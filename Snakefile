# srlm: the study as one graph.
#   dataset -> (tiny tokenizer/models | hub models) -> teacher traces -> SFT / KD / RL chains
#   -> evaluation -> results/table{1,2,3}.{csv,md,png} -> results/{profile}/report.html
# Params file: --config params=params/tiny.yaml (default params/paper.yaml, or $SRLM_PARAMS).
# Each rule is one stage of srlm/stages.py (its inputs, outputs, the params it reads, its
# resources and command); the rules below only say which stages exist and how they chain.
import os
import sys

from srlm.config import METHODS, load_params
from srlm.paths import INIT, Paths
from srlm.stages import STAGES, command, resources, unread_keys

PARAMS_FILE = config.get("params", os.environ.get("SRLM_PARAMS", "params/paper.yaml"))
P = load_params(PARAMS_FILE)  # validated before any job starts
for key in unread_keys(P, PARAMS_FILE):
    print(f"srlm: warning: {PARAMS_FILE}: {key} is set but read by no stage of this profile", file=sys.stderr)
PATHS = Paths(P)
ROOT = str(PATHS.root)
STAGE = "({})".format("|".join(METHODS))  # a pipeline's stages: sft, lora, kd, rl
PIPELINE = f"{STAGE}(-{STAGE})*"


include: "rules/stages.smk"  # a rule's input, output, params digest, log, resources, command


wildcard_constraints:
    model="|".join(P.models),
    dataset="|".join(P.datasets),
    pipeline=PIPELINE,
    table="[123]",


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
