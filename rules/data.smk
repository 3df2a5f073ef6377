# Datasets: pinned hub revision or offline mirror, sha256-checked, normalised, deduplicated.


rule data:
    output:
        **outputs("data"),
    params:
        cfg=digest("data"),
    resources:
        **res("data"),
    log:
        logged("data", "logs"),
    benchmark:
        logged("data", "benchmarks")
    shell:
        command_of("data")
