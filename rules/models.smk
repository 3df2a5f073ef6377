# Starting models: hub models at a pinned revision, stand-ins (random Qwen2 with the real Qwen2.5
# tokenizer), or (CPU profile) a tokenizer and tiny models built offline: base (plain-text
# pre-training), instruct (base + chat tuning), teacher (larger).


rule tokenizer:
    input:
        unpack(inputs("tokenizer")),
    output:
        **outputs("tokenizer"),
    params:
        cfg=digest("tokenizer"),
    resources:
        **res("tokenizer"),
    log:
        logged("tokenizer", "logs"),
    benchmark:
        logged("tokenizer", "benchmarks")
    shell:
        command_of("tokenizer")


rule model:
    input:
        unpack(inputs("model")),
    output:
        **outputs("model"),
    params:
        cfg=digest("model"),
    resources:
        **res("model"),
    log:
        logged("model", "logs"),
    benchmark:
        logged("model", "benchmarks")
    priority: 10  # starting models head the longest path (teacher -> traces -> KD); scheduled first
    shell:
        command_of("model")
