"""Loading models by hub id or local directory; prompt templates; the eos rules for Qwen.

Every model directory the graph writes holds ``srlm_model.json``: the prompt template the model
understands (``plain`` for a base model, ``chat`` once it was trained on the chat format) and its
lineage (the stages that produced it).

The eos rule (a common failure of Qwen base SFT, see ``docs``): chat-format training ends every
assistant turn with ``<|im_end|>``, so before chat training the tokenizer's eos becomes ``<|im_end|>``
and generation stops on either ``<|im_end|>`` or ``<|endoftext|>``.
"""

from __future__ import annotations

import json
from pathlib import Path

from .io import atomic_dir

IM_END = "<|im_end|>"
ENDOFTEXT = "<|endoftext|>"
META = "srlm_model.json"
PLAIN_TEMPLATE = "Question: {question}\nAnswer:"
"""Prompt for base models: lm-evaluation-harness's ``gsm8k`` format (``eval.base_prompt: plain``)."""
BOXED_TEMPLATE = ("Question: {question}\nPlease reason step by step, and put your final answer within "
                  "\\boxed{{}}.\nAnswer:")
"""``eval.base_prompt: boxed``: the same frame with Qwen2.5-Math's instruction (the one SimpleRL-Zoo
and Qwen2.5-Math's evaluation give every model), so a base model states a ``\\boxed{}`` answer."""
BASE_PROMPTS = {"plain": PLAIN_TEMPLATE, "boxed": BOXED_TEMPLATE}
STOP_STRINGS = {"plain": ("Question:",), "chat": ()}
"""Where generation stops besides eos, per template: a base model runs on into a next question
(lm-eval's gsm8k ``until``); applied during generation and again by the grader."""


def stop_strings(template: str) -> tuple[str, ...]:
    return STOP_STRINGS.get(template, ())


class ModelError(ValueError):
    """An unknown model name, a missing model directory, or a model without its metadata."""


def read_meta(model_dir: str | Path) -> dict:
    path = Path(model_dir) / META
    if not path.is_file():
        raise ModelError(f"{model_dir}: not a srlm model directory (no {META})")
    try:
        return json.loads(path.read_text())
    except (UnicodeDecodeError, ValueError) as err:
        raise ModelError(f"{path}: unreadable ({err})") from None


def write_meta(model_dir: str | Path, template: str, lineage: list[str], **extra) -> None:
    meta = {"template": template, "lineage": lineage, **extra}
    (Path(model_dir) / META).write_text(json.dumps(meta, indent=2) + "\n")


def load_tokenizer(model_dir: str | Path):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(model_dir))
    tok.padding_side = "left"
    if tok.pad_token is None:
        tok.pad_token = ENDOFTEXT
    return tok


def load_model(model_dir: str | Path, device: str = "cpu", dtype: str = "float32", tokenizer=None):
    """Load model, tokenizer (unless given) and srlm metadata from a directory the graph wrote."""
    import torch
    from transformers import AutoModelForCausalLM

    meta = read_meta(model_dir)
    try:
        model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=getattr(torch, dtype))
    except Exception as err:  # a cut-off or corrupt weights file (SafetensorError, OSError, ...)
        raise ModelError(f"{model_dir}: cannot load the model: {err.__class__.__name__}: {err}") from None
    model.to(device)
    return model, tokenizer or load_tokenizer(model_dir), meta


def use_chat_eos(tokenizer, model=None) -> None:
    """Make ``<|im_end|>`` the eos; generation stops on ``<|im_end|>`` or ``<|endoftext|>``."""
    if IM_END not in tokenizer.get_vocab():
        raise ModelError(f"tokenizer has no {IM_END} token: cannot use the chat template")
    tokenizer.eos_token = IM_END
    if tokenizer.pad_token is None or tokenizer.pad_token == IM_END:
        tokenizer.pad_token = ENDOFTEXT
    if model is not None:
        ids = [tokenizer.convert_tokens_to_ids(IM_END), tokenizer.convert_tokens_to_ids(ENDOFTEXT)]
        model.config.eos_token_id = ids[0]
        model.generation_config.eos_token_id = ids
        model.generation_config.pad_token_id = tokenizer.pad_token_id


def stop_ids(tokenizer) -> list[int]:
    vocab = tokenizer.get_vocab()
    return [vocab[t] for t in (IM_END, ENDOFTEXT) if t in vocab]


def render_prompt(tokenizer, question: str, template: str, system_prompt: str = "",
                  shots: list[dict] | None = None, base_prompt: str = "plain") -> str:
    """The text a model is prompted with: ChatML for chat models, a plain template otherwise
    (``base_prompt``: a key of ``BASE_PROMPTS``).

    ``shots`` (rows with ``question`` and ``cot``) go first: as earlier ``Question/Answer`` blocks
    in the plain template, as earlier user/assistant turns in the chat template.
    """
    shots = shots or []
    if template == "plain":
        frame = BASE_PROMPTS[base_prompt]
        solved = "".join(f"{frame.format(question=s['question'])} {s['cot']}\n\n" for s in shots)
        return solved + frame.format(question=question)
    messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
    for shot in shots:
        messages += [{"role": "user", "content": shot["question"]},
                     {"role": "assistant", "content": shot["cot"]}]
    messages.append({"role": "user", "content": question})
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def end_of_turn(template: str) -> str:
    """What a training target ends with, so the model learns to stop."""
    return IM_END if template == "chat" else ENDOFTEXT


def save_model(model, tokenizer, out_dir: str | Path, template: str, lineage: list[str], **extra):
    model.save_pretrained(str(out_dir))
    tokenizer.save_pretrained(str(out_dir))
    write_meta(out_dir, template, lineage, **extra)


def fetch_hub_model(name: str, repo: str, revision: str, template: str, out_dir: Path) -> None:
    """Download a hub model at a pinned revision into ``out_dir`` with its srlm metadata."""
    from huggingface_hub import snapshot_download

    with atomic_dir(out_dir) as tmp:
        try:
            snapshot_download(repo, revision=revision, local_dir=str(tmp),
                              allow_patterns=["*.json", "*.safetensors", "*.txt", "*.model", "*.jinja"])
        except Exception as err:
            raise RuntimeError(f"model {name}: cannot download {repo}@{revision}: "
                               f"{err.__class__.__name__}: {err}") from None
        write_meta(tmp, template, [name], source=repo, revision=revision)
