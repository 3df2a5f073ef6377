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

# GPU stack: the versions of constraints.txt, the project's one list of pins (tests/test_pins.py),
# vLLM included (generation and colocated GRPO rollouts; TRL's vllm extra checks its range).
# flash-attn is not installed (SDPA attention).
COPY constraints.txt /tmp/constraints.txt
RUN pip install --constraint /tmp/constraints.txt torch \
    && pip install --constraint /tmp/constraints.txt deepspeed transformers datasets "trl[vllm]" vllm peft \
       accelerate "math-verify[antlr4_9_3]" snakemake snakemake-executor-plugin-slurm dvc

RUN useradd --create-home --uid 1000 srlm \
    && mkdir -p /cache/hf /srlm && chown -R srlm:srlm /cache/hf /srlm
WORKDIR /srlm
COPY --chown=srlm:srlm . /srlm
RUN pip install --no-deps -e /srlm
USER 1000
VOLUME ["/cache/hf", "/srlm/results", "/srlm/work"]
ENTRYPOINT ["snakemake"]
CMD ["--cores", "all", "results/table2.csv"]
