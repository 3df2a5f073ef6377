# Evaluation: greedy or sampled generation, extraction, grading; samples + metrics per benchmark.
# One job per model x pipeline evaluates every benchmark of the profile (process start-up and model
# load paid once, not once per benchmark).


rule eval:
    input:
        unpack(inputs("eval")),
    output:
        **outputs("eval"),
    wildcard_constraints:
        pipeline=f"{INIT}|{PIPELINE}",
    params:
        cfg=digest("eval"),
    resources:
        **res("eval"),
    log:
        logged("eval", "logs"),
    benchmark:
        logged("eval", "benchmarks")
    shell:
        command_of("eval")
