# Evaluation: greedy generation, extraction, math-verify grading; samples + metrics per benchmark.
# One job per model x pipeline evaluates every benchmark of the profile (process start-up and model
# load paid once, not once per benchmark).
BENCHES = P.eval.benchmarks


rule eval:
    input:
        model=f"{ROOT}/models/{{model}}/{{pipeline}}",
        data=[str(PATHS.data(b)) for b in BENCHES],
    output:
        metrics=[str(PATHS.eval("{model}", "{pipeline}", b)) for b in BENCHES],
        samples=[str(PATHS.samples("{model}", "{pipeline}", b)) for b in BENCHES],
    wildcard_constraints:
        pipeline=f"{INIT}|{PIPELINE}",
    params:
        cfg=digest(P, *EVAL_SECTIONS),
    resources:
        **rule_resources(P, "gpu"),
    log:
        f"{ROOT}/logs/eval/{{model}}/{{pipeline}}.log",
    benchmark:
        f"{ROOT}/benchmarks/eval/{{model}}/{{pipeline}}.tsv"
    shell:
        "{SRLM} eval --model {wildcards.model} --pipeline {wildcards.pipeline} 2> {log}"
