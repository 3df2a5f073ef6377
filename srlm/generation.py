"""Batched generation behind one interface: HF ``generate`` (left padding) or vLLM when importable."""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .grading import cut_at_stop
from .models import stop_ids
from .progress import progress

STATIC_CACHE_MIN_BATCHES = 4
"""A static KV cache makes ``generate`` compile its decoding step once per shape: measured on an
H200 with a Qwen2.5-0.5B shape (README), the compile costs about 38 s, three batches of plain
``generate``; after it a batch runs 2.6x faster. So by default (``eval.static_cache: long_jobs``) it
is used on CUDA for calls of at least this many batches, with one shape for the call."""
MAX_ROW_DOUBLINGS = 3
"""``eval.batch_memory`` grows a static-cache batch to at most ``2**3 = 8`` times ``batch_size``."""


@dataclass(frozen=True)
class Shape:
    """The shape of every batch of a static-cache call: rows (the last batch is filled with copies
    of its last row) and prompt tokens (left-padded)."""

    rows: int
    prompt: int


def bucket(n: int, multiple: int) -> int:
    """``n`` rounded up to a multiple of ``multiple`` (0: ``n`` itself)."""
    return -(-n // multiple) * multiple if multiple > 0 else n


def job_shape(longest: int, rows: int, multiple: int, previous: Shape | None = None) -> Shape:
    """The shape of a call whose longest prompt has ``longest`` tokens: the job's ``previous`` shape
    when the prompts fit in it (the compiled step is reused), else a longer bucket."""
    prompt = bucket(longest, multiple)
    if previous is not None and previous.rows == rows:
        prompt = max(prompt, previous.prompt)
    return Shape(rows, prompt)


def fit_rows(batch_size: int, row_bytes: int, free_bytes: int, fraction: float) -> int:
    """``batch_size`` doubled (at most ``MAX_ROW_DOUBLINGS`` times) while that many rows' KV cache
    (``row_bytes`` each) fits in ``fraction`` of ``free_bytes``; never less than ``batch_size``."""
    rows = batch_size
    for _ in range(MAX_ROW_DOUBLINGS):
        if 2 * rows * row_bytes > fraction * free_bytes:
            break
        rows *= 2
    return rows


def kv_bytes_per_token(config, dtype_bytes: int = 2) -> int:
    """KV-cache bytes a token takes in every layer (keys and values)."""
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    return 2 * config.num_hidden_layers * config.num_key_value_heads * head_dim * dtype_bytes


_JOB_SHAPES: dict[tuple[str, int], Shape] = {}
"""``eval.static_cache: always``: the shape each model and token budget has used in this process
(one evaluation job), so later benchmarks reuse its compiled decoding step."""


@dataclass
class Completion:
    text: str
    stopped: bool
    """Ended on an eos/<|im_end|> token or a stop string rather than the token limit (cut off)."""
    n_tokens: int


def backend_name(requested: str, device: str) -> str:
    if requested == "vllm" or (requested == "auto" and device == "cuda"
                               and importlib.util.find_spec("vllm") is not None):
        return "vllm"
    return "hf"


def generate_hf(model, tokenizer, prompts: list[str], max_new_tokens: int, batch_size: int,
                temperature: float = 0.0, top_p: float = 1.0, n: int = 1, seed: int = 0,
                desc: str = "generate", static_cache: bool = False,
                stop: Sequence[str] = (), shape: Shape | None = None) -> list[list[Completion]]:
    """``n`` completions per prompt; prompts are sorted by length to cut padding. A row ends on
    eos or on one of the ``stop`` strings (HF's ``stop_strings``); the text is cut before it, and
    a batch ends when every row has.

    ``static_cache`` uses a static KV cache (pays off on CUDA for long jobs; see
    ``bench/generation.py``). Every batch then has one shape, ``shape`` or else the call's longest
    prompt and ``batch_size`` rows (the last batch is filled with copies), so the decoding step
    compiles once.
    """
    import torch

    eos = stop_ids(tokenizer)
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    out: list[list[Completion]] = [[] for _ in prompts]
    tokenizer.padding_side = "left"
    torch.manual_seed(seed)
    sample = temperature > 0
    device = next(model.parameters()).device
    model.eval()
    jobs = [i for i in order for _ in range(n)]
    tokens = tokenizer(prompts, add_special_tokens=False)["input_ids"]  # once; each batch is padded
    if static_cache and shape is None:
        shape = Shape(batch_size, max(map(len, tokens)))
    batch_size = shape.rows if shape else batch_size
    pad = {"padding": "max_length", "max_length": shape.prompt} if shape else {"padding": True}
    for start in progress(range(0, len(jobs), batch_size), desc, unit="batch"):
        idx = jobs[start:start + batch_size]
        rows = [tokens[i] for i in idx]
        if shape:
            rows += rows[-1:] * (batch_size - len(rows))
        enc = tokenizer.pad({"input_ids": rows}, return_tensors="pt", **pad).to(device)
        with torch.no_grad():
            gen = model.generate(
                **enc, max_new_tokens=max_new_tokens, do_sample=sample,
                temperature=temperature if sample else None, top_p=top_p if sample else None,
                top_k=None, eos_token_id=eos, pad_token_id=tokenizer.pad_token_id,
                cache_implementation="static" if shape else None,
                stop_strings=list(stop) or None, tokenizer=tokenizer if stop else None,
            )
        new = gen[:len(idx), enc["input_ids"].shape[1]:].tolist()
        for i, ids in zip(idx, new):
            ended = next((k for k, t in enumerate(ids) if t in eos), None)
            stopped = ended is not None or len(ids) < max_new_tokens  # eos, or HF's stop strings
            ids = ids if ended is None else ids[:ended]
            text = tokenizer.decode(ids, skip_special_tokens=True)
            cut = cut_at_stop(text, stop)
            out[i].append(Completion(cut, stopped or cut != text, len(ids)))
    return out


VLLM_MEMORY = 0.85
"""Fraction of the GPU's memory the evaluation's (or teacher's) vLLM engine takes."""


@functools.lru_cache(maxsize=1)
def _vllm_engine(model_dir: str, stamp: int):
    from vllm import LLM

    return LLM(model=model_dir, seed=0, gpu_memory_utilization=VLLM_MEMORY)


def vllm_engine(model_dir: str):
    """One vLLM engine per process and model (a second engine in one process does not fit on the
    GPU beside the first): an evaluation job generates once per benchmark and seed with it; each
    request carries its own seed."""
    return _vllm_engine(str(model_dir), _stamp(model_dir))


def generate_vllm(model_dir: str, prompts: list[str], max_new_tokens: int, temperature: float,
                  top_p: float, n: int, seed: int, stop: Sequence[str] = ()) -> list[list[Completion]]:
    from vllm import SamplingParams

    llm = vllm_engine(model_dir)
    tok = llm.get_tokenizer()
    sp = SamplingParams(n=n, temperature=temperature, top_p=top_p, max_tokens=max_new_tokens,
                        seed=seed, stop_token_ids=stop_ids(tok), stop=list(stop) or None)
    results = llm.generate(prompts, sp)
    return [[Completion(o.text, o.finish_reason == "stop", len(o.token_ids)) for o in r.outputs]
            for r in results]


def _stamp(model_dir: str | Path) -> int:
    return max((p.stat().st_mtime_ns for p in Path(model_dir).iterdir() if p.is_file()), default=0)


@functools.lru_cache(maxsize=2)
def _tokenizer(model_dir: str, stamp: int):
    from .models import load_tokenizer

    return load_tokenizer(model_dir)


def loaded_tokenizer(model_dir: str | Path):
    """The tokenizer of ``model_dir``, loaded once per process while its files are unchanged (Qwen2.5's
    151k-entry tokenizer takes ~3 s to load; an evaluation job prompts once per benchmark)."""
    return _tokenizer(str(model_dir), _stamp(model_dir))


@functools.lru_cache(maxsize=1)
def _loaded(model_dir: str, device: str, stamp: int):
    from .models import load_model

    model, tokenizer, _ = load_model(model_dir, device, dtype="bfloat16" if device == "cuda" else "float32",
                                     tokenizer=loaded_tokenizer(model_dir))
    return model, tokenizer


def loaded_model(model_dir: str, device: str):
    """The HF model and tokenizer of ``model_dir`` (bf16 on CUDA, fp32 on CPU), loaded once per
    process while its files are unchanged: an evaluation job calls ``generate`` once per benchmark
    and seed."""
    return _loaded(str(model_dir), device, _stamp(model_dir))


def static_shape(model, tokenizer, prompts: list[str], n: int, batch_size: int, max_new_tokens: int,
                 device: str, policy=None, key: str = "") -> Shape | None:
    """The static-cache shape of a ``generate`` call (None: a dynamic cache), by ``policy`` (an
    :class:`srlm.config.EvalSpec`; None: the ``long_jobs`` rule with the call's longest prompt).
    Under ``static_cache: always`` the job keeps one shape per model and token budget."""
    mode = policy.static_cache if policy is not None else "long_jobs"
    batches = -(-len(prompts) * n // batch_size)
    if device != "cuda" or mode == "never" or (mode == "long_jobs" and batches < STATIC_CACHE_MIN_BATCHES):
        return None
    longest = max(map(len, tokenizer(prompts, add_special_tokens=False)["input_ids"]))
    if mode == "long_jobs":
        return job_shape(longest, batch_size, policy.prompt_multiple if policy is not None else 0)
    previous = _JOB_SHAPES.get((key, max_new_tokens))
    rows = previous.rows if previous else batch_size
    if previous is None and policy.batch_memory:
        import torch

        cache = bucket(longest, policy.prompt_multiple) + max_new_tokens
        rows = fit_rows(batch_size, cache * kv_bytes_per_token(model.config), torch.cuda.mem_get_info()[0],
                        policy.batch_memory)
    shape = _JOB_SHAPES[key, max_new_tokens] = job_shape(longest, rows, policy.prompt_multiple, previous)
    return shape


def generate(model_dir: str, prompts: list[str], *, device: str, backend: str,
             max_new_tokens: int, batch_size: int, temperature: float = 0.0, top_p: float = 1.0,
             n: int = 1, seed: int = 0, desc: str = "generate", tokenizer=None,
             stop: Sequence[str] = (), policy=None) -> tuple[list[list[Completion]], str]:
    """Generate with the backend the params ask for; returns completions and the backend used.
    ``stop``: strings that end a completion during generation (the template's, ``stop_strings``);
    ``policy``: the ``eval`` section, whose static-cache settings the HF backend follows."""
    name = backend_name(backend, device)
    if name == "vllm":
        return generate_vllm(model_dir, prompts, max_new_tokens, temperature, top_p, n, seed, stop), name
    model, loaded = loaded_model(model_dir, device)
    tokenizer = tokenizer or loaded
    shape = static_shape(model, tokenizer, prompts, n, batch_size, max_new_tokens, device, policy,
                         str(model_dir))
    return generate_hf(model, tokenizer, prompts, max_new_tokens, batch_size, temperature, top_p,
                       n, seed, desc, static_cache=shape is not None, stop=stop, shape=shape), name


@dataclass
class Prompted:
    """A model directory's prompts for a list of questions, with its metadata and tokenizer."""

    meta: dict
    prompts: list[str]
    tokenizer: object


def prompt_model(model_dir: str | Path, questions: list[str], system_prompt: str,
                 shots: list[dict] | None = None, base_prompt: str = "plain") -> Prompted:
    """Render each question in the template the model understands (``srlm_model.json``)."""
    from .models import read_meta, render_prompt

    meta = read_meta(model_dir)
    tokenizer = loaded_tokenizer(model_dir)
    return Prompted(meta, [render_prompt(tokenizer, q, meta["template"], system_prompt, shots, base_prompt)
                           for q in questions], tokenizer)
