# Training: one rule builds the last stage of any pipeline from the pipeline before it, so every
# chain listed in params (sft-kd-rl needs sft-kd, which needs sft, which needs the base) is buildable.

def train_inputs(wc):
    return {k: str(v) for k, v in paths.train_inputs(P, wc.model, wc.pipeline).items()}


rule train:
    input:
        unpack(train_inputs),
    output:
        directory(f"{ROOT}/models/{{model}}/{{pipeline}}"),
    params:
        cfg=lambda wc: digest(P, *train_sections(wc.pipeline)),
    resources:
        **rule_resources(P, "gpu"),
    log:
        f"{ROOT}/logs/train/{{model}}/{{pipeline}}.log",
    benchmark:
        f"{ROOT}/benchmarks/train/{{model}}/{{pipeline}}.tsv"
    shell:
        "{TRAIN} train --model {wildcards.model} --pipeline {wildcards.pipeline} 2> {log}"
