# Tables: table1 (models before training), table2 (each method alone), table3 (hybrids).


def table_inputs(wc):
    return [str(p) for p in paths.table_inputs(P, int(wc.n))]


rule table:
    input:
        table_inputs,
    output:
        csv="results/table{n}.csv",
        md="results/table{n}.md",
        png="results/table{n}.png",
    params:
        cfg=digest(P, "tables", "models", "profile"),
    resources:
        **rule_resources(P, "cpu"),
    log:
        f"{ROOT}/logs/table{{n}}.log",
    shell:
        "{SRLM} tables --table {wildcards.n} 2> {log}"
