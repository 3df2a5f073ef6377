"""The CPU miniature: seeded GSM8K-style word problems, a byte-level BPE tokenizer, tiny Qwen2 models.

Problems take 1..max_steps steps of + and -, operands 1..max_operand, one working line per step
("16 + 11 = 27") and a final ``#### n``, the GSM8K answer format. Intermediate results never go
negative. Test problems never occur in the training or pre-training sets.
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

NAMES = ["Ana", "Ben", "Cara", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jun", "Kai", "Lea",
         "Mo", "Nia", "Omar", "Pia", "Raj", "Sol", "Tom", "Uma", "Vic", "Wen", "Yara", "Zed"]
OBJECTS = ["apples", "books", "coins", "stamps", "pens", "shells", "cards", "eggs", "marbles",
           "stickers", "cookies", "flowers"]
ADD = ["{n} buys {b} more {o}.", "{n} finds {b} more {o}.", "{n} gets {b} {o} from a friend.",
       "Then {n} picks up {b} {o}."]
SUB = ["{n} gives away {b} {o}.", "{n} loses {b} {o}.", "{n} sells {b} {o}.",
       "Then {n} uses {b} {o}."]

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHATML_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)
QWEN2_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)


def make_problem(rng: random.Random, max_steps: int, max_operand: int,
                 step_weights: list[float] | None = None) -> dict:
    """One problem: question, chain of thought ending in ``#### n``, gold answer.

    Steps are uniform in 1..max_steps, or drawn with the relative ``step_weights``."""
    name, obj = rng.choice(NAMES), rng.choice(OBJECTS)
    if step_weights:
        steps = rng.choices(range(1, len(step_weights) + 1), weights=step_weights)[0]
    else:
        steps = rng.randint(1, max_steps)
    value = rng.randint(1, max_operand)
    sentences = [f"{name} has {value} {obj}."]
    lines = []
    for _ in range(steps):
        b = rng.randint(1, max_operand)
        if value - b >= 0 and rng.random() < 0.5:
            sentences.append(rng.choice(SUB).format(n=name, b=b, o=obj))
            lines.append(f"{value} - {b} = {value - b}")
            value -= b
        else:
            sentences.append(rng.choice(ADD).format(n=name, b=b, o=obj))
            lines.append(f"{value} + {b} = {value + b}")
            value += b
    sentences.append(f"How many {obj} does {name} have now?")
    question = " ".join(sentences)
    cot = "\n".join(lines) + f"\n#### {value}"
    pid = "tw-" + hashlib.sha1(question.encode()).hexdigest()[:12]
    return {"id": pid, "question": question, "answer": str(value), "cot": cot}


def generate_splits(n_train: int, n_test: int, n_pretrain: int, max_steps: int, max_operand: int,
                    pretrain_max_steps: int, seed: int,
                    pretrain_step_weights: list[float] | None = None) -> dict[str, list[dict]]:
    """Disjoint test / train / pretrain sets; deduplicated by question text."""
    rng = random.Random(seed)
    seen: set[str] = set()

    def draw(n: int, steps: int, weights: list[float] | None = None) -> list[dict]:
        out: list[dict] = []
        tries = 0
        while len(out) < n:
            tries += 1
            if tries > 50 * n:
                raise ValueError(f"tinyworld: cannot draw {n} distinct problems; raise max_operand")
            problem = make_problem(rng, steps, max_operand, weights)
            if problem["question"] not in seen:
                seen.add(problem["question"])
                out.append(problem)
        return out

    test = draw(n_test, max_steps)
    train = draw(n_train, max_steps)
    pretrain = draw(n_pretrain, pretrain_max_steps, pretrain_step_weights)
    return {"test": test, "train": train, "pretrain": pretrain}


def build_tokenizer(texts: list[str], vocab_size: int, out_dir: str | Path):
    """Train a byte-level BPE (Qwen2 split regex, one token per digit) with ChatML specials."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_SPLIT), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )
    tok.train_from_iterator(texts, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|endoftext|>", pad_token="<|endoftext|>",
        additional_special_tokens=SPECIALS[1:],
    )
    fast.chat_template = CHATML_TEMPLATE
    fast.padding_side = "left"
    fast.save_pretrained(str(out_dir))
    return fast


def build_model(tokenizer, arch, seed: int):
    """A randomly initialised Qwen2 causal LM of the given tiny architecture."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(seed)
    config = Qwen2Config(
        vocab_size=len(tokenizer), hidden_size=arch.hidden_size,
        intermediate_size=arch.intermediate_size, num_hidden_layers=arch.layers,
        num_attention_heads=arch.heads, num_key_value_heads=arch.kv_heads,
        max_position_embeddings=1024, tie_word_embeddings=True,
        bos_token_id=None, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )
    return Qwen2ForCausalLM(config)
