# Tables: table1 (models before training), table2 (each method alone), table3 (hybrids), each as
# CSV (flagged for `snakemake --report`), Markdown with published counterparts, a bar chart, and
# the cost of each cell (wall-clock, kept apart so the tables stay byte-identical).
TABLE = outputs("tables")


rule tables:
    input:
        unpack(inputs("tables")),
    output:
        csv=report(TABLE["csv"], caption="../report/table.rst", category="Tables",
                   labels={"table": "{table}", "file": "CSV"}),
        cost=TABLE["cost"],
        md=TABLE["md"],
        png=report(TABLE["png"], caption="../report/table.rst", category="Tables",
                   labels={"table": "{table}", "file": "bar chart"}),
    params:
        cfg=digest("tables"),
    resources:
        **res("tables"),
    log:
        logged("tables", "logs"),
    benchmark:
        logged("tables", "benchmarks")
    shell:
        command_of("tables")
