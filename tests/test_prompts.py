"""Prompt templates: plain and chat, zero- and few-shot, and the few-shot draw."""

from __future__ import annotations

import json

import pytest

from srlm.evaluate import few_shot_examples
from srlm.models import render_prompt
from srlm.tinyworld import build_tokenizer

SHOTS = [{"id": "a", "question": "Ana has 2 pens. Ana buys 3 more pens. How many pens does Ana have now?",
          "cot": "2 + 3 = 5\n#### 5"},
         {"id": "b", "question": "Ben has 9 eggs. Ben sells 4 eggs. How many eggs does Ben have now?",
          "cot": "9 - 4 = 5\n#### 5"}]
QUESTION = "Cara has 7 coins. Cara loses 1 coins. How many coins does Cara have now?"


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    texts = [s["question"] + " " + s["cot"] for s in SHOTS] * 20
    return build_tokenizer(texts, 300, tmp_path_factory.mktemp("tok"))


def test_plain_few_shot(tokenizer):
    prompt = render_prompt(tokenizer, QUESTION, "plain", shots=SHOTS)
    assert prompt == (f"Question: {SHOTS[0]['question']}\nAnswer: 2 + 3 = 5\n#### 5\n\n"
                      f"Question: {SHOTS[1]['question']}\nAnswer: 9 - 4 = 5\n#### 5\n\n"
                      f"Question: {QUESTION}\nAnswer:")
    assert render_prompt(tokenizer, QUESTION, "plain") == f"Question: {QUESTION}\nAnswer:"


def test_chat_few_shot_as_earlier_turns(tokenizer):
    prompt = render_prompt(tokenizer, QUESTION, "chat", "Reason step by step.", shots=SHOTS)
    assert prompt.startswith("<|im_start|>system\nReason step by step.<|im_end|>\n")
    assert prompt.count("<|im_start|>user\n") == 3 and prompt.count("<|im_start|>assistant\n") == 3
    assert f"<|im_start|>assistant\n{SHOTS[1]['cot']}<|im_end|>\n<|im_start|>user\n{QUESTION}" in prompt
    assert prompt.endswith("<|im_start|>assistant\n")


def test_few_shot_draw_is_seeded_and_needs_a_train_split(tmp_path):
    rows = [{"id": f"r{i}", "question": f"q{i}", "cot": f"#### {i}"} for i in range(50)]
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    first = few_shot_examples(tmp_path, 4, seed=1)
    assert len({r["id"] for r in first}) == 4 and first == few_shot_examples(tmp_path, 4, seed=1)
    assert first != few_shot_examples(tmp_path, 4, seed=2)
    assert few_shot_examples(tmp_path, 0, seed=1) == []
    with pytest.raises(ValueError, match="no train split"):
        few_shot_examples(tmp_path / "missing", 2, seed=1)


def test_boxed_base_prompt_and_stop_strings(tokenizer):
    from srlm.models import stop_strings

    prompt = render_prompt(tokenizer, QUESTION, "plain", base_prompt="boxed", shots=SHOTS[:1])
    assert prompt.endswith(f"Question: {QUESTION}\nPlease reason step by step, and put your final "
                           "answer within \\boxed{}.\nAnswer:")
    assert prompt.count("\\boxed{}") == 2
    assert stop_strings("plain") == ("Question:",) and stop_strings("chat") == ()
