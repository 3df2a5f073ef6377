# Teacher traces: CAMEL's published traces or samples of the teacher, kept when they verify
# against gold.


rule teacher:
    input:
        unpack(inputs("teacher")),
    output:
        **outputs("teacher"),
    params:
        cfg=digest("teacher"),
    resources:
        **res("teacher"),
    log:
        logged("teacher", "logs"),
    benchmark:
        logged("teacher", "benchmarks")
    priority: 10  # on the longest path: teacher -> traces -> KD
    shell:
        command_of("teacher")
