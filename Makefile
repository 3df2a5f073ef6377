# Two set-up commands on a fresh machine (Python 3.11, no GPU):
#   make tiny   installs everything and regenerates results/table{1,2,3} on the CPU profile
#   make test   installs what the tests need and runs the test suite (.ci/run calls this)
VENV ?= .venv
BIN := $(VENV)/bin
export PATH := $(abspath $(BIN)):$(PATH)
CORES ?= all
PIN := --constraint constraints.txt  # the one list of versions

.PHONY: setup tiny paper test lint
setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(PIN) torch
	$(BIN)/python -m pip install -q $(PIN) -e ".[test]"
	$(BIN)/python -m pip install -q $(PIN) --no-build-isolation deepspeed  # sdist: builds against the torch above
	$(BIN)/python -c "from deepspeed.comm.torch import build_shm_op; build_shm_op()"  # JIT-compile DeepSpeed's CPU comm op once, here, not inside the first DeepSpeed job
	touch $@

tiny: setup  # the plan first (each job's estimate), then the graph, which ends in results/tiny/report.html
	srlm --params params/tiny.yaml plan --gpus $$(nproc)
	snakemake --cores $(CORES) --config params=params/tiny.yaml --rerun-incomplete
	snakemake --config params=params/tiny.yaml --report results/tiny/snakemake-report.html
	@echo "report: results/tiny/report.html (Snakemake's: results/tiny/snakemake-report.html)"

paper: setup
	snakemake --cores $(CORES) --config params=params/paper.yaml --rerun-incomplete

lint: setup
	ruff check srlm tests bench
	hadolint Dockerfile

# three pytest workers, whole files each: the pipeline and infrastructure graphs run side by side,
# the third takes the other files (it fills the CPU while the SLURM test waits on status checks)
test: setup lint
	pytest -n 3 --dist loadfile --durations 25
