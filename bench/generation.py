"""Generation throughput: srlm's HF path against plain ``model.generate`` on the same prompts.

    python bench/generation.py                         # tiny random Qwen2 on CPU
    python bench/generation.py --model DIR --device cuda --batch-size 256 --n 1024

Prints new tokens/s of each and their ratio, both measured in this run: on the first call (what
one evaluation job pays, compilation included) and on a second, warm call. srlm's path sorts
prompts by length (less padding) and, on CUDA, uses a static KV cache with one shape per job.
"""

from __future__ import annotations

import argparse
import random
import time

import torch


def plain_generate(model, tok, prompts, max_new_tokens, batch_size) -> int:
    new = 0
    for i in range(0, len(prompts), batch_size):
        enc = tok(prompts[i:i + batch_size], return_tensors="pt", padding=True).to(model.device)
        out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False,
                             pad_token_id=tok.pad_token_id)
        new += int((out[:, enc["input_ids"].shape[1]:] != tok.pad_token_id).sum())
    return new


def main() -> None:
    from srlm.generation import generate_hf
    from srlm.models import PLAIN_TEMPLATE
    from srlm.tinyworld import build_model, build_tokenizer, make_problem

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", help="model directory (default: a tiny random Qwen2)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--n", type=int, default=256)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    args = ap.parse_args()
    rng = random.Random(0)
    problems = [make_problem(rng, rng.randint(1, 6), 20) for _ in range(args.n)]
    prompts = [PLAIN_TEMPLATE.format(question=p["question"]) for p in problems]
    if args.model:
        from srlm.models import load_model

        model, tok, _ = load_model(args.model, args.device,
                                   "bfloat16" if args.device == "cuda" else "float32")
    else:
        import tempfile

        from srlm.config import TinyArch

        tok = build_tokenizer(prompts * 4, 512, tempfile.mkdtemp())
        model = build_model(tok, TinyArch(hidden_size=128, layers=4, heads=4, kv_heads=2,
                                          intermediate_size=384), seed=0).to(args.device)
    tok.padding_side = "left"
    model.eval()
    model.generation_config.eos_token_id = None  # both paths generate the full budget
    cold, warm = {}, {}
    for name, fn in (("plain generate", lambda: plain_generate(model, tok, prompts,
                                                              args.max_new_tokens, args.batch_size)),
                     ("srlm generate_hf", lambda: sum(c[0].n_tokens for c in generate_hf(
                         model, tok, prompts, args.max_new_tokens, args.batch_size,
                         static_cache=args.device == "cuda")))):
        for results in (cold, warm):
            if args.device == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            tokens = fn()
            if args.device == "cuda":
                torch.cuda.synchronize()
            results[name] = tokens / (time.perf_counter() - start)
        print(f"{name:>18}: {cold[name]:10.0f} new tokens/s first call, {warm[name]:10.0f} warm")
    for label, results in (("first call", cold), ("warm", warm)):
        print(f"ratio srlm/plain, {label}: {results['srlm generate_hf'] / results['plain generate']:.2f}x")


if __name__ == "__main__":
    main()
