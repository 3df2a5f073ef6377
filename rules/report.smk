# The report: results/{profile}/report.html (tables, figures, published numbers, learning curves,
# protocol, cost), flagged for `snakemake --report` with the tables.
REPORT = outputs("report")["html"]


rule report:
    input:
        unpack(inputs("report")),
    output:
        report(REPORT, caption="../report/report.rst", category="Report"),
    params:
        cfg=digest("report"),
    resources:
        **res("report"),
    log:
        logged("report", "logs"),
    benchmark:
        logged("report", "benchmarks")
    shell:
        command_of("report")
