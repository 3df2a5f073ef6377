# Training: one rule builds the last stage of any pipeline from the pipeline before it, so every
# chain listed in params (sft-kd-rl needs sft-kd, which needs sft, which needs the base) is buildable.
# KD also reads the teacher and its traces. torchrun launches it when its rule has several GPUs.


rule train:
    input:
        unpack(inputs("train")),
    output:
        **outputs("train"),
    params:
        cfg=digest("train"),
    resources:
        **res("train"),
    log:
        logged("train", "logs"),
    benchmark:
        logged("train", "benchmarks")
    shell:
        command_of("train")
