"""A randomly initialised model of Qwen2.5-0.5B's exact shape with Qwen2.5's exact tokenizer, for GPU
checks without the hub: the stand-in profile's builder (srlm/standin.py) at full width.

    python bench/gpu/qwen_shape.py OUT_DIR [--template plain|chat]

Config as Qwen/Qwen2.5-0.5B (24 layers, hidden 896, 14 heads, 2 KV heads, MLP 4864, vocab 151,936,
tied embeddings), weights random (bf16). It never emits eos, so every generation runs to its token
limit: timings are upper bounds. (``srlm model`` with bench/gpu/params.yaml builds the same models.)
"""

from __future__ import annotations

import argparse
from pathlib import Path


def main() -> None:
    from srlm.models import write_meta
    from srlm.standin import QWEN25_05B, build_qwen_model

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("out", type=Path)
    ap.add_argument("--template", choices=("plain", "chat"), default="plain")
    args = ap.parse_args()
    flavour = "base" if args.template == "plain" else "instruct"
    build_qwen_model(flavour, **QWEN25_05B, seed=0, out_dir=args.out, dtype="bfloat16")
    write_meta(args.out, args.template, ["init"], source="random Qwen2.5-0.5B shape")
    print(f"{args.out}: Qwen2.5-0.5B shape, {flavour} conventions, Qwen2.5 tokenizer")


if __name__ == "__main__":
    main()
