# Tables: table1 (models before training), table2 (each method alone), table3 (hybrids).
from srlm import published

RESULTS = str(PATHS.results)  # results/ for the paper profile, results/{profile}/ for the others


def table_inputs(wc):
    return [str(p) for p in paths.table_inputs(P, int(wc.n))]


rule table:
    input:
        table_inputs,
        references=str(published.REFERENCES),  # the published counterparts in the Markdown
    output:
        csv=report(f"{RESULTS}/table{{n}}.csv", caption="../report/table.rst", category="Tables",
                   labels={"table": "{n}", "file": "CSV"}),
        cost=f"{RESULTS}/table{{n}}.cost.csv",
        md=f"{RESULTS}/table{{n}}.md",
        png=report(f"{RESULTS}/table{{n}}.png", caption="../report/table.rst", category="Tables",
                   labels={"table": "{n}", "file": "bar chart"}),
    params:
        cfg=digest(P, "tables", "models", "profile"),
    resources:
        **rule_resources(P, "cpu"),
    log:
        f"{ROOT}/logs/table{{n}}.log",
    benchmark:
        f"{ROOT}/benchmarks/table{{n}}.tsv"
    shell:
        "{SRLM} tables --table {wildcards.n} 2> {log}"
