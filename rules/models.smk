# Starting models: hub models at a pinned revision, or (CPU profile) a tokenizer and tiny models
# built offline: base (plain-text pre-training), instruct (base + chat tuning), teacher (larger).


def model_inputs(wc):
    return {k: str(v) for k, v in paths.model_inputs(P, wc.model).items()}


rule tokenizer:
    input:
        str(PATHS.data(P.train_data)),
    output:
        directory(str(PATHS.tokenizer)),
    params:
        cfg=digest(P, "tiny.vocab_size"),
    resources:
        **rule_resources(P, "cpu"),
    log:
        f"{ROOT}/logs/tokenizer.log",
    benchmark:
        f"{ROOT}/benchmarks/tokenizer.tsv"
    shell:
        "{SRLM} tokenizer 2> {log}"


rule model:
    input:
        unpack(model_inputs),
    output:
        directory(f"{ROOT}/models/{{model}}/{INIT}"),
    params:
        cfg=lambda wc: digest(P, *model_sections(wc.model)),
    resources:
        **rule_resources(P, "gpu"),
    log:
        f"{ROOT}/logs/model/{{model}}.log",
    benchmark:
        f"{ROOT}/benchmarks/model/{{model}}.tsv"
    priority: 10  # starting models head the longest path (teacher -> traces -> KD); scheduled first
    shell:
        "{SRLM} model --model {wildcards.model} 2> {log}"
