# srlm on a GPU host: the pinned GPU stack as one known-good set; entrypoint runs snakemake.
#   docker build -t srlm .
#   docker run --gpus all --ipc=host -v $HOME/.cache/huggingface:/cache/hf -v $PWD/results:/srlm/results \
#     -v $PWD/work:/srlm/work srlm --cores all results/table2.csv
FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04

ENV DEBIAN_FRONTEND=noninteractive \
    PIP_NO_CACHE_DIR=1 \
    PYTHONUNBUFFERED=1 \
    HF_HOME=/cache/hf \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

# Distribution packages follow the base image's security updates rather than fixed versions.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3.12 python3.12-venv python3.12-dev git build-essential \
    && rm -rf /var/lib/apt/lists/* \
    && python3.12 -m venv /opt/venv

# GPU stack (pins agree with pyproject.toml and environment.yml; checked by tests/test_pins.py).
# vLLM is left out: vllm 0.32.0 is the release built for torch==2.13.0 but requires
# transformers<5.20 (we pin 5.24); vllm 0.33.0 requires torch==2.14.0. Without it, generation and
# GRPO rollouts use the HF backend (static KV cache on CUDA). flash-attn is not pinned either (SDPA).
RUN pip install torch==2.13.0 \
    && pip install deepspeed==0.19.8 \
       transformers==5.24.0 datasets==5.2.0 trl==1.16.0 peft==0.21.2 accelerate==1.15.0 \
       "math-verify[antlr4_9_3]==0.9.0" snakemake==9.27.1 snakemake-executor-plugin-slurm==2.8.0 dvc==3.67.1

RUN useradd --create-home --uid 1000 srlm \
    && mkdir -p /cache/hf /srlm && chown -R srlm:srlm /cache/hf /srlm
WORKDIR /srlm
COPY --chown=srlm:srlm . /srlm
RUN pip install --no-deps -e /srlm
USER 1000
VOLUME ["/cache/hf", "/srlm/results", "/srlm/work"]
ENTRYPOINT ["snakemake"]
CMD ["--cores", "all", "results/table2.csv"]
