"""The HF generation path: batching, stop tokens, and one shape per job under a static cache."""

from __future__ import annotations

import random

import pytest

from srlm.config import TinyArch
from srlm.generation import generate_hf
from srlm.models import PLAIN_TEMPLATE
from srlm.tinyworld import build_model, build_tokenizer, make_problem


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    rng = random.Random(0)
    problems = [make_problem(rng, 3, 20) for _ in range(40)]
    prompts = [PLAIN_TEMPLATE.format(question=p["question"]) for p in problems]
    tok = build_tokenizer([p + " " + q["cot"] for p, q in zip(prompts, problems)], 300,
                          tmp_path_factory.mktemp("tok"))
    model = build_model(tok, TinyArch(hidden_size=32, layers=1, heads=2, kv_heads=1,
                                      intermediate_size=64), seed=0)
    model.generation_config.eos_token_id = None
    return model, tok, prompts[:11]


def shapes_of(model, monkeypatch) -> list[tuple]:
    seen: list[tuple] = []
    inner = model.generate

    def spy(**kw):
        seen.append((tuple(kw["input_ids"].shape), kw.get("cache_implementation")))
        return inner(**kw)

    monkeypatch.setattr(model, "generate", spy)
    return seen


def test_static_cache_job_has_one_shape(tiny, monkeypatch):
    model, tok, prompts = tiny
    lengths = {len(tok(p)["input_ids"]) for p in prompts}
    assert len(lengths) > 1  # prompts of several lengths, 11 of them in batches of 4
    seen = shapes_of(model, monkeypatch)
    static = generate_hf(model, tok, prompts, 6, 4, static_cache=True)
    assert [s for s in seen] == [((4, max(lengths)), "static")] * 3
    seen.clear()
    dynamic = generate_hf(model, tok, prompts, 6, 4)
    assert len({s for s in seen}) > 1 and all(c is None for _, c in seen)
    assert [len(c) for c in static] == [1] * 11  # the filler rows of the last batch are dropped
    same = sum(a[0].text == b[0].text for a, b in zip(static, dynamic))
    assert same >= 10, f"static-cache completions differ from plain ones on {11 - same} of 11 prompts"


def test_model_loaded_once_per_job(tiny, tmp_path, monkeypatch):
    """``generate`` (called per benchmark and seed by one evaluation job) loads a model directory
    once, and again only when its files change (a model retrained into the same path)."""
    import srlm.models
    from srlm.generation import _loaded, generate

    model, tok, prompts = tiny
    srlm.models.save_model(model, tok, tmp_path, "plain", ["base"])
    loads: list[str] = []
    real = srlm.models.load_model
    monkeypatch.setattr(srlm.models, "load_model", lambda d, *a, **k: loads.append(d) or real(d, *a, **k))
    _loaded.cache_clear()
    run = dict(device="cpu", backend="hf", max_new_tokens=4, batch_size=4)
    first, _ = generate(str(tmp_path), prompts, **run)
    second, _ = generate(str(tmp_path), prompts, **run)
    assert len(loads) == 1 and first == second
    srlm.models.save_model(model, tok, tmp_path, "plain", ["base", "sft"])
    generate(str(tmp_path), prompts, **run)
    assert len(loads) == 2


def test_stop_strings_end_generation(tiny):
    """A template's stop string ends a row during generation (not after it), and is cut off."""
    model, tok, prompts = tiny
    free = generate_hf(model, tok, prompts, 12, 4)
    text = next(c[0].text for c in free if len(c[0].text) > 8)
    stop = text[4:8]
    cut = generate_hf(model, tok, prompts, 12, 4, stop=[stop])
    hits = 0
    for a, b in zip(free, cut):
        assert stop not in b[0].text and a[0].text.startswith(b[0].text)
        if stop in a[0].text:  # stopped there, during generation: fewer tokens
            hits += 1
            assert b[0].stopped and b[0].n_tokens < a[0].n_tokens
        else:
            assert b[0] == a[0]
    assert hits


def test_eval_metrics_name_protocol_and_truncation(tiny, tmp_path):
    """Every metrics file says how it was graded, with the truncated share, flagged over 5%."""
    import json

    import srlm.models
    from srlm.config import load_params
    from srlm.evaluate import run_eval

    from .conftest import REPO

    model, tok, _ = tiny
    srlm.models.save_model(model, tok, tmp_path / "model", "plain", ["base"])
    rng = random.Random(3)
    rows = [{"id": f"q{i}", **make_problem(rng, 1, 5)} for i in range(5)]
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    params = load_params(REPO / "tests" / "nano.yaml", {
        "workdir": str(tmp_path), "device": "cpu",
        "eval": {"benchmarks": ["tinyworld"], "max_new_tokens": 6, "base_prompt": "boxed"}})
    metrics = run_eval(params, tmp_path / "model", "tinyworld", tmp_path / "data",
                       tmp_path / "m.json", tmp_path / "s.jsonl")
    proto = metrics["protocol"]
    assert proto["base_prompt"] == "boxed" and proto["stop_strings"] == ["Question:"]
    assert "\\boxed{}" in proto["prompt_format"] and "5 problems" in proto["interval"]
    assert {"extractor", "comparison", "rel_tol", "abs_tol", "lm_eval"} <= set(proto["grading"])
    assert metrics["truncated_fraction"] == pytest.approx(1 - metrics["stopped_fraction"])
    assert metrics["truncation_flag"] == (metrics["truncated_fraction"] > 0.05)
    assert {"strict_accuracy", "flexible_accuracy"} <= set(metrics)
