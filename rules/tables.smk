# Tables: table1 (models before training), table2 (each method alone), table3 (hybrids).


def table_inputs(wc):
    """Metrics (accuracy, interval) and per-sample files (the paired tests of tables 2 and 3)."""
    return [str(f(m, p, b)) for m, p in table_runs(P, int(wc.n)) for b in P.eval.benchmarks
            for f in (PATHS.eval, PATHS.samples)]


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
