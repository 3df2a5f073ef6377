# What every rule takes from its stage's declaration in srlm/stages.py (named by the rule).


def wildcard_pattern(stage):
    return {w: f"{{{w}}}" for w in stage.wildcards}


def snake_out(o):
    return [snake_out(x) for x in o] if isinstance(o, list) else directory(str(o.path)) if o.kind == "dir" else str(o.path)


def inputs(name):
    """A stage's inputs for the rule's wildcards (``unpack`` it)."""
    stage = STAGES[name]
    return lambda wc: {k: [str(p) for p in v] if isinstance(v, list) else str(v)
                       for k, v in stage.inputs(P, dict(wc)).items()}


def outputs(name):
    stage = STAGES[name]
    return {k: snake_out(v) for k, v in stage.outputs(P, wildcard_pattern(stage)).items()}


def digest(name):
    """The digest of exactly the params keys the stage reads: the rule reruns when they change."""
    stage = STAGES[name]
    return lambda wc: stage.digest(P, dict(wc))


def command_of(name):
    stage = STAGES[name]
    return command(P, PARAMS_FILE, stage, {w: f"{{wildcards.{w}}}" for w in stage.wildcards}) + " 2> {log}"


def logged(name, what):
    return f"{ROOT}/{what}/{STAGES[name].where(wildcard_pattern(STAGES[name]))}.{'log' if what == 'logs' else 'tsv'}"


def res(name):
    return resources(P, STAGES[name])
