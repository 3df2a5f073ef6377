# Datasets: pinned hub revision or offline mirror, sha256-checked, normalised, deduplicated.


rule data:
    output:
        directory(f"{ROOT}/data/{{dataset}}"),
    params:
        cfg=lambda wc: digest(P, f"datasets.{wc.dataset}", *DATA_SECTIONS),
    resources:
        **rule_resources(P, "cpu"),
    log:
        f"{ROOT}/logs/data/{{dataset}}.log",
    benchmark:
        f"{ROOT}/benchmarks/data/{{dataset}}.tsv"
    shell:
        "{SRLM} data --dataset {wildcards.dataset} 2> {log}"
