"""A randomly initialised model of Qwen2.5-0.5B's exact shape, for GPU checks without the hub.

    python bench/gpu/qwen_shape.py OUT_DIR --texts DATA_DIR [--template plain|chat]

Config as Qwen/Qwen2.5-0.5B (24 layers, hidden 896, 14 heads, 2 KV heads, MLP 4864, vocab 151,936,
tied embeddings), weights random (bf16), tokenizer a 32k byte-level BPE with ChatML specials trained
on the JSONL texts under DATA_DIR, so prompts have about a real tokenizer's length. It never emits
eos, so every generation runs to its token limit: timings are upper bounds.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

QWEN25_05B = dict(hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
                  num_key_value_heads=2, vocab_size=151936, max_position_embeddings=32768,
                  rope_theta=1_000_000.0, rms_norm_eps=1e-6, tie_word_embeddings=True)


def texts(data_dir: Path) -> list[str]:
    out = []
    for path in sorted(data_dir.rglob("*.jsonl")):
        for line in path.read_text().splitlines():
            row = json.loads(line)
            out += [str(v) for v in row.values() if isinstance(v, str)]
    return out


def main() -> None:
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from srlm.models import write_meta
    from srlm.tinyworld import build_tokenizer

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("out", type=Path)
    ap.add_argument("--texts", type=Path, required=True)
    ap.add_argument("--template", choices=("plain", "chat"), default="plain")
    args = ap.parse_args()
    tok = build_tokenizer(texts(args.texts), 32000, args.out)
    torch.manual_seed(0)
    config = Qwen2Config(**QWEN25_05B, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
                         bos_token_id=None)
    model = Qwen2ForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(str(args.out))
    write_meta(args.out, args.template, ["init"], source="random Qwen2.5-0.5B shape")
    print(f"{args.out}: {model.num_parameters() / 1e6:.1f}M parameters, tokenizer {len(tok)}")


if __name__ == "__main__":
    main()
