# Evaluation: greedy generation, extraction, math-verify grading; samples + metrics per benchmark.


rule eval:
    input:
        model=f"{ROOT}/models/{{model}}/{{pipeline}}",
        data=f"{ROOT}/data/{{bench}}",
    output:
        metrics=f"{ROOT}/eval/{{model}}/{{pipeline}}/{{bench}}.json",
        samples=f"{ROOT}/eval/{{model}}/{{pipeline}}/{{bench}}.samples.jsonl",
    wildcard_constraints:
        pipeline=f"{INIT}|{PIPELINE}",
    params:
        cfg=digest(P, "eval", "seed"),
    resources:
        **rule_resources(P, "gpu"),
    log:
        f"{ROOT}/logs/eval/{{model}}/{{pipeline}}/{{bench}}.log",
    benchmark:
        f"{ROOT}/benchmarks/eval/{{model}}/{{pipeline}}/{{bench}}.tsv"
    shell:
        "{SRLM} eval --model {wildcards.model} --pipeline {wildcards.pipeline} "
        "--bench {wildcards.bench} 2> {log}"
