# The report: results/{profile}/report.html (tables, figures, published numbers, learning curves,
# protocol, cost), flagged for `snakemake --report` with the tables.
from srlm.report import report_path

REPORT = str(report_path(P))


rule report:
    input:
        tables=[str(PATHS.table(n, "csv")) for n in (1, 2, 3)],
        metrics=sorted({str(p) for n in (1, 2, 3) for p in paths.table_inputs(P, n)}),
    output:
        report(REPORT, caption="../report/report.rst", category="Report"),
    resources:
        **rule_resources(P, "cpu"),
    log:
        f"{ROOT}/logs/report.log",
    benchmark:
        f"{ROOT}/benchmarks/report.tsv"
    shell:
        "{SRLM} report 2> {log}"
