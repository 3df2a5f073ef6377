"""The stage declarations (srlm/stages.py) are the one definition of the graph: a stage can read only
the params keys it declares, and a key's change moves the digest of exactly the jobs that read it;
the Snakefile's rules and dvc.yaml derive from the same declarations."""

from __future__ import annotations

import copy
import subprocess

import pytest
import yaml

from srlm.config import Params, ParamsError, load_params, params_chain, read_raw
from srlm.dvcgen import dvc_yaml
from srlm.stages import GRAPH, STAGES, STRUCTURE, job_name, jobs, leaf_keys, unread_keys
from srlm.view import UndeclaredRead, covered

from .conftest import REPO, tool_env

PROFILES = ["params/paper.yaml", "params/tiny.yaml", "params/paper-standin.yaml"]


def _params(file: str) -> Params:
    return load_params(REPO / file)


def test_a_stage_reads_only_what_it_declares():
    params = _params("params/paper.yaml")
    view = STAGES["train"].view(params, {"model": "base", "pipeline": "sft"})
    assert view.sft.full.lr == params.sft.full.lr and view.seed == params.seed
    assert view.resources.get("gpu").gpus == 1  # a declared leaf of a mapping section
    for read in (lambda: view.rl.train, lambda: view.kd, lambda: view.resources.get("gpu").mem_mb,
                 lambda: view.eval.max_new_tokens):
        with pytest.raises(UndeclaredRead, match="stage train reads params key '(rl|kd|resources|eval)"):
            read()
    ev = STAGES["eval"].view(params, {"model": "base", "pipeline": "init"})
    assert ev.eval.limit_for("aime24") == -1 and ev.eval.sampling_for("aime24").k == 16  # methods too
    with pytest.raises(UndeclaredRead):
        _ = ev.datasets["aime24"].sha256  # only the kind of a benchmark's dataset is read
    data = STAGES["data"].view(params, {"dataset": "gsm8k"})
    with pytest.raises(UndeclaredRead, match="tinyworld"):
        _ = data.tinyworld  # a real dataset no longer depends on the CPU profile's generator


@pytest.mark.parametrize("file", [*PROFILES, "tests/micro.yaml"])
def test_every_key_set_is_read_by_a_stage(file):
    assert unread_keys(_params(file), str(REPO / file)) == []


def test_a_key_no_stage_reads_is_reported(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(f"extends: {REPO}/params/paper.yaml\ntraces: {{temperature: 0.9}}\n")
    proc = subprocess.run(["srlm", "--params", str(path), "check"], capture_output=True, text=True,
                          env=tool_env(), cwd=REPO)
    assert proc.returncode == 0
    assert "traces.temperature is set but read by no stage" in proc.stderr  # CAMEL traces: not sampled


def _perturbed(value):
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return value * 0.5 if value else 0.25
    if isinstance(value, str):
        return value + " "
    return None


def _leaves(raw: dict, path: tuple = ()) -> list[tuple]:
    """Leaf paths as tuples (a key may hold dots: file names under sha256)."""
    out = []
    for key, value in raw.items():
        out += _leaves(value, (*path, key)) if isinstance(value, dict) and value else [(*path, key)]
    return out


def _set(raw: dict, path: tuple, value) -> dict:
    out = copy.deepcopy(raw)
    node = out
    *parents, last = path
    for part in parents:
        node = node[part]
    node[last] = value
    return out


@pytest.mark.parametrize("file", PROFILES)
def test_a_key_moves_the_digest_of_exactly_the_jobs_that_read_it(file):
    """Every leaf key of the profile, changed to another valid value: the jobs whose digest (the
    Snakemake rerun trigger, DVC's params, the resume fingerprint) moves are the jobs that read it."""
    raw = read_raw(REPO / file)
    params = Params.model_validate(raw)
    graph = jobs(params)
    before = {job_name(s, wc): s.digest(params, wc) for s, wc in graph}
    tried = 0
    for path in _leaves(raw):
        key = ".".join(path)
        if covered(key, STRUCTURE):
            continue
        new = _perturbed(_get(raw, path))
        if new is None:
            continue
        try:
            changed = Params.model_validate(_set(raw, path, new))
        except (ValueError, ParamsError):
            continue  # no other valid value of this kind (a literal, a bounded count)
        tried += 1
        if [job_name(s, wc) for s, wc in jobs(changed)] != list(before):
            continue  # the key shapes the graph itself (benchmarks, tables): Snakemake sees new files
        moved = {job_name(s, wc) for s, wc in jobs(changed)
                 if s.digest(changed, wc) != before[job_name(s, wc)]}
        readers = {job_name(s, wc) for s, wc in graph if covered(key, s.reads(params, wc))}
        assert moved == readers, key
        assert readers or covered(key, GRAPH), f"{key}: read by no job"
    assert tried > 40


def _get(raw: dict, path: tuple):
    for part in path:
        raw = raw[part]
    return raw


@pytest.mark.parametrize("file", ["params/tiny.yaml", "params/paper-standin.yaml"])
def test_dvc_params_are_the_keys_each_job_reads(file):
    params = _params(file)
    stages = yaml.safe_load(dvc_yaml(params, file))["stages"]
    chain = params_chain(REPO / file)
    set_somewhere = {k for _, raw in chain for k in leaf_keys(raw)}
    for stage, wc in jobs(params):
        if stage.name == "report":
            continue
        listed = {k for entry in stages[job_name(stage, wc)].get("params", []) for ks in entry.values()
                  for k in ks}
        reads = stage.reads(params, wc)
        expected = {r for r in reads if any(covered(k, [r]) for k in set_somewhere)}
        assert listed == expected, job_name(stage, wc)


def test_the_committed_dvc_yaml_is_generated_from_the_stages():
    assert (REPO / "dvc.yaml").read_text() == dvc_yaml(_params("params/tiny.yaml"), "params/tiny.yaml")


def test_the_snakefile_has_one_rule_a_stage():
    proc = subprocess.run(["snakemake", "--list-rules", "--config", "params=params/tiny.yaml"],
                          cwd=REPO, capture_output=True, text=True, env=tool_env())
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert set(proc.stdout.split()) == {*STAGES, "all"}


def test_train_defaults_are_validated_and_overridden(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(f"extends: {REPO}/params/paper.yaml\ntrain_defaults: {{bacth_size: 4}}\n")
    with pytest.raises(ParamsError, match="train_defaults.bacth_size: unknown key"):
        load_params(path)
    path.write_text(f"extends: {REPO}/params/paper.yaml\ntrain_defaults: {{save_steps: 7}}\n")
    params = load_params(path)
    assert params.sft.full.save_steps == params.kd.train.save_steps == 7
    assert params.rl.train.save_steps == 50  # its own key wins
    path.write_text(f"extends: {REPO}/params/paper.yaml\ntrain_defaults: {{lr: -1}}\n")
    with pytest.raises(ParamsError, match="train_defaults.lr: Input should be greater than 0"):
        load_params(path)  # checked even where every section sets its own
    paper = _params("params/paper.yaml")
    assert paper.sft.full.packing == paper.kd.train.packing == "padding_free"
    assert paper.rl.train.packing is False  # SFT-only settings stay out of GRPO


def test_an_unset_optional_section_reads_as_none():
    params = load_params(REPO / "params/paper.yaml", {"datasets": {"tw": {"kind": "tinyworld"}}})
    view = STAGES["data"].view(params, {"dataset": "tw"})
    assert view.tiny is None and view.tinyworld.n_train > 0
