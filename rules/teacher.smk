# Teacher traces: sample CoTs from the teacher, keep those that verify against gold.


def teacher_inputs(wc):
    deps = [str(PATHS.data(P.train_data))]
    if P.traces.source == "camel":
        deps += [str(PATHS.data(n)) for n, d in P.datasets.items() if d.kind == "camel"]
    else:
        deps.append(str(PATHS.model(P.teacher)))
    return deps


rule teacher:
    input:
        teacher_inputs,
    output:
        traces=str(PATHS.traces),
        report=str(PATHS.traces_report),
    params:
        cfg=digest(P, *TEACHER_SECTIONS),
    resources:
        **rule_resources(P, "gpu"),
    log:
        f"{ROOT}/logs/teacher.log",
    benchmark:
        f"{ROOT}/benchmarks/teacher.tsv"
    priority: 10  # on the longest path: teacher -> traces -> KD
    shell:
        "{SRLM} teacher 2> {log}"
