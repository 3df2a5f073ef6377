"""Fault injection: each fault a user met (issue 15) reproduced through the real CLI, and survived.

Every test builds the fault, runs the stage, and checks the two guarantees: a clear error naming the
culprit (file, line, key, stage and step) with a non-zero exit and no finished-looking output, or a
recovery whose result is byte-identical to a run without the fault; and no checkpoint lost.
"""

from __future__ import annotations

import fcntl
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .test_resume import PARAMS, copy_base, copy_sft, shared_base, shared_sft, srlm

W = "work/resume"


def tree_bytes(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def variant(tmp: Path, name: str, text: str) -> Path:
    path = tmp / f"{name}.yaml"
    path.write_text(f"extends: {PARAMS}\n{text}")
    return path


def last_json(proc: subprocess.CompletedProcess) -> dict:
    return json.loads(proc.stdout.strip().splitlines()[-1])


def fails(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-3000:])
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    for needle in needles:
        assert needle in proc.stderr, (needle, proc.stderr[-3000:])


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    return shared_base(tmp_path_factory)


@pytest.fixture
def work(base, tmp_path) -> Path:
    copy_base(base, tmp_path)
    return tmp_path


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, dict]:
    """An uninterrupted SFT run of the resume params, made once by the CLI: its folder and summary."""
    return shared_sft(tmp_path_factory)


@pytest.fixture
def finished(work, trained) -> Path:
    """``work`` after that SFT run: its model and checkpoints copied in (trained elsewhere, so the
    tests that start from them also show that a run directory does not depend on its location)."""
    copy_sft(trained[0], work)
    return work


# --- reruns never change a finished result --------------------------------------------------------

def test_rerun_of_finished_training_gives_the_same_model(finished, trained):
    """Item 1: a rerun (``snakemake -f``, or a kill during the final save) resumes the final
    checkpoint: it must not train past ``max_steps``, and the model must not change."""
    work, out, first = finished, finished / W / "models/base/sft", trained[1]
    assert first["resumed_from"] is None  # the first run trained from the start
    reference = tree_bytes(out)
    for _ in range(2):
        shutil.rmtree(out)  # what snakemake -f does before the job
        again = last_json(srlm(work, "train", "--model", "base", "--pipeline", "sft"))
        assert again["global_step"] == first["global_step"] == 40
        assert again["resumed_from"].endswith("checkpoint-40")
        assert tree_bytes(out) == reference
    again = last_json(srlm(work, "train", "--model", "base", "--pipeline", "sft"))  # output present
    assert again["global_step"] == 40 and tree_bytes(out) == reference


def test_non_finite_training_stops_naming_stage_and_step(work):
    """Item 2: a diverging run stops with an error naming the stage and step; no model is saved."""
    params = variant(work, "diverge", "sft:\n  full: {lr: 1.0e+38, max_steps: 40, batch_size: 16, "
                     "max_length: 192, save_steps: 8, logging_steps: 1}\n")
    proc = srlm(work, "train", "--model", "base", "--pipeline", "sft", check=False, params=params)
    fails(proc, "sft: ", "at step ")
    assert "is nan" in proc.stderr or "is inf" in proc.stderr or "not finite" in proc.stderr
    assert not (work / W / "models/base/sft").exists()


def test_mistaken_run_keeps_the_good_checkpoints(finished):
    """Item 3: good run, a run with wrong params (stopped or not), the good params again: the good
    checkpoints come back and are resumed; nothing was deleted."""
    work = finished  # after the good run
    out, runs = work / W / "models/base/sft", work / W / "runs/base"
    good = tree_bytes(out)
    wrong = variant(work, "wrong", "sft:\n  full: {lr: 1.0e-1}\n")
    for _ in range(2):  # twice: the second wrong run must not replace the first stale set either
        shutil.rmtree(out)
        srlm(work, "train", "--model", "base", "--pipeline", "sft", params=wrong)
    shutil.rmtree(out)
    back = srlm(work, "train", "--model", "base", "--pipeline", "sft")
    assert "moved back" in back.stdout and last_json(back)["resumed_from"].endswith("checkpoint-40")
    assert tree_bytes(out) == good
    stale = sorted(p.name for p in (runs / "sft.stale").iterdir())
    assert len(stale) == 1, stale  # the wrong params' set, kept under its digest
    assert (runs / "sft.stale" / stale[0] / "checkpoint-40" / "model.safetensors").is_file()


def test_edited_input_data_is_detected(work):
    """Item 4: a gold answer changed inside a data directory after the graph ran: the stages that
    read it stop, naming the file."""
    test_file = work / W / "data/tinyworld/test.jsonl"
    rows = test_file.read_text().splitlines()
    row = json.loads(rows[0])
    row["answer"] = str(int(row["answer"]) + 1)
    test_file.write_text("\n".join([json.dumps(row), *rows[1:]]) + "\n")
    proc = srlm(work, "eval", "--model", "base", "--bench", "tinyworld", check=False)
    fails(proc, f"{test_file.relative_to(work)}: changed since it was made")
    assert not (work / W / "eval").exists()
    proc = srlm(work, "train", "--model", "base", "--pipeline", "sft", check=False)
    fails(proc, "test.jsonl: changed since it was made")


def test_truncated_newest_checkpoint_falls_back(finished):
    """Item 5: a cut-off ``model.safetensors`` in the newest checkpoint: resume from the newest one
    that is whole, say which, and keep the broken one aside; the model is the uninterrupted one."""
    work = finished
    out, runs = work / W / "models/base/sft", work / W / "runs/base/sft"
    reference = tree_bytes(out)
    shutil.rmtree(out)
    weights = runs / "checkpoint-40/model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    proc = srlm(work, "train", "--model", "base", "--pipeline", "sft")
    assert "checkpoint-40 cannot be resumed: model.safetensors" in proc.stdout
    assert last_json(proc)["resumed_from"].endswith("checkpoint-32")
    assert tree_bytes(out) == reference
    assert (work / W / "runs/base/sft.broken/checkpoint-40/model.safetensors").is_file()


def test_truncated_unsealed_checkpoint_falls_back(tmp_path):
    """Item 5, for a checkpoint saved by an older srlm (no seal): a cut-off safetensors is found."""
    from srlm.train.resume import last_checkpoint, quarantine_broken

    for step, cut in ((10, False), (20, True)):
        ckpt = tmp_path / "run" / f"checkpoint-{step}"
        ckpt.mkdir(parents=True)
        (ckpt / "trainer_state.json").write_text(json.dumps({"global_step": step}))
        header = json.dumps({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}).encode()
        blob = len(header).to_bytes(8, "little") + header + bytes(16)
        (ckpt / "model.safetensors").write_bytes(blob[:-5] if cut else blob)
    (tmp_path / "run/checkpoint-30").mkdir()  # cut off before its trainer state was written
    quarantine_broken(tmp_path / "run")
    assert last_checkpoint(tmp_path / "run") == str(tmp_path / "run/checkpoint-10")
    assert sorted(p.name for p in (tmp_path / "run.broken").iterdir()) == ["checkpoint-20",
                                                                           "checkpoint-30"]


def _mirror_params(tmp: Path, rows: bytes, name: str = "bench") -> Path:
    (tmp / "mirror").mkdir(exist_ok=True)
    (tmp / "mirror" / f"{name}.jsonl").write_bytes(rows)
    return variant(tmp, name, f"mirror: {tmp / 'mirror'}\n"
                   f"datasets:\n  {name}: {{kind: math, mirror_files: {{test: {name}.jsonl}}}}\n")


def test_empty_split_is_rejected(tmp_path):
    """Item 6: an empty benchmark split stops the data stage, naming the file."""
    params = _mirror_params(tmp_path, b"")
    fails(srlm(tmp_path, "data", "--dataset", "bench", check=False, params=params),
          "bench.jsonl: split 'test' of dataset bench has no rows")
    assert not (tmp_path / W / "data/bench").exists()


def test_non_utf8_data_names_file_and_line(tmp_path):
    """Item 7: bytes that are not UTF-8 in a data file name the file, line and column."""
    good = json.dumps({"problem": "1+1?", "answer": "2"}).encode()
    params = _mirror_params(tmp_path, good + b"\n" + good[:5] + b"\xff\xfe" + good[5:] + b"\n")
    fails(srlm(tmp_path, "data", "--dataset", "bench", check=False, params=params),
          "bench.jsonl:2:6: not UTF-8")


def test_non_utf8_params_names_file_and_line(tmp_path):
    params = tmp_path / "bad.yaml"
    params.write_bytes(f"extends: {PARAMS}\nprofile: caf\xe9\n".encode("latin-1"))
    fails(srlm(tmp_path, "check", check=False, params=params), f"{params}:2:13: not UTF-8")


def test_truncated_model_at_evaluation_names_the_path(work):
    """Item 8: a cut-off weights file: evaluation stops naming it (checked against the producer's
    record; without a record the load error names the model directory)."""
    model = work / W / "models/base/init"
    weights = model / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    proc = srlm(work, "eval", "--model", "base", "--bench", "tinyworld", check=False)
    fails(proc, f"{weights.relative_to(work)}: changed since it was made")
    (model / "srlm_files.json").unlink()
    proc = srlm(work, "eval", "--model", "base", "--bench", "tinyworld", check=False)
    fails(proc, f"{model.relative_to(work)}: cannot load the model")


def test_huge_question_is_an_error_naming_the_row(tmp_path):
    """Item 9: a 60 MB question stops the data stage naming the row (limit documented in srlm.data)."""
    good = json.dumps({"problem": "1+1?", "answer": "2"})
    huge = json.dumps({"problem": "9" * 60_000_000, "answer": "2"})
    params = _mirror_params(tmp_path, f"{good}\n{good}\n{huge}\n".encode())
    fails(srlm(tmp_path, "data", "--dataset", "bench", check=False, params=params),
          "bench.jsonl:3: question of 60,000,000 characters, over the limit")


@pytest.mark.parametrize("files,needle", [
    ({"a.yaml": "extends: b.yaml\n", "b.yaml": "extends: a.yaml\n"}, "a.yaml -> "),
    ({"a.yaml": "extends: a.yaml\n"}, "extends cycle"),
    ({"a.yaml": "extends: 5\n"}, "extends: must be the path of another params file, not 5"),
    ({"a.yaml": f"extends: {PARAMS}\nseed: 1\nprofile: x\nseed: 2\n"}, "key 'seed' given twice"),
    ({"a.yaml": f"extends: {PARAMS}\nseed: -1\n"}, "seed: Input should be greater than or equal to 0"),
    ({"a.yaml": f"extends: {PARAMS}\nsft:\n  full: {{lr: .inf}}\n"}, "sft.full.lr: Input should be a finite"),
    ({"a.yaml": f"extends: {PARAMS}\nrl:\n  reward: {{format: .nan}}\n"}, "rl.reward.format"),
])
def test_bad_params_name_the_culprit(tmp_path, files, needle):
    """Items 2, 10, 11, 12: cycles, a non-path ``extends``, a key given twice, a negative seed and
    non-finite numbers are errors naming the files or the key, before any compute."""
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    proc = srlm(tmp_path, "check", check=False, params=tmp_path / "a.yaml")
    fails(proc, needle)
    if "given twice" in needle:
        assert "line 4" in proc.stderr and "first on line 2" in proc.stderr


def _read_only(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:  # root ignores the mode bits: make the folder immutable instead
        subprocess.run(["chattr", "+i", str(folder)], check=True)
    else:
        folder.chmod(0o555)


def _writable(folder: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", str(folder)], check=True)
    folder.chmod(0o755)


def test_read_only_output_fails_before_compute(work):
    """Item 13: an output folder that cannot be written is found before any compute."""
    models = work / W / "models/base"
    _read_only(models)
    try:
        start = time.time()
        proc = srlm(work, "train", "--model", "base", "--pipeline", "sft", check=False)
        rel = models.relative_to(work)
        fails(proc, f"{rel / 'sft'}: cannot write into {rel}", "nothing was computed")
        assert not (work / W / "runs/base/sft").exists(), "training started"
        assert time.time() - start < 60
    finally:
        _writable(models)


def test_second_training_of_a_stage_is_refused(work):
    """Item 14: while one ``srlm train`` owns a run directory, a second one stops at once."""
    runs = work / W / "runs/base"
    runs.mkdir(parents=True)
    with open(runs / ".sft.lock", "a+") as held:  # the lock a running stage holds
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        held.write("4242\n")
        held.flush()
        proc = srlm(work, "train", "--model", "base", "--pipeline", "sft", check=False)
    fails(proc, "runs/base/sft is in use by another srlm process (pid 4242)")
    first = subprocess.Popen([sys.executable, "-m", "srlm.cli", "--params", str(PARAMS), "train",
                              "--model", "base", "--pipeline", "sft"], cwd=work,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while not (runs / "sft" / "srlm_inputs.json").is_file():
            assert first.poll() is None and time.time() < deadline
            time.sleep(0.1)
        second = srlm(work, "train", "--model", "base", "--pipeline", "sft", check=False)
        fails(second, "is in use by another srlm process")
    finally:
        assert first.wait(timeout=300) == 0
    assert (work / W / "models/base/sft/model.safetensors").is_file()


def test_stale_temporary_output_is_cleaned(finished, trained):
    """Item 15: a kill during the final save leaves ``.NAME.tmp-PID`` (and the final checkpoint); the
    next run removes it, and its model is the uninterrupted run's."""
    out = finished / W / "models/base/sft"
    shutil.rmtree(out)  # the kill came before the rename
    debris = finished / W / "models/base/.sft.tmp-999999999"
    debris.mkdir(parents=True)
    (debris / "model.safetensors").write_bytes(b"half")
    srlm(finished, "train", "--model", "base", "--pipeline", "sft")
    assert not debris.exists()
    assert not list((finished / W / "models/base").glob(".*.tmp-*"))
    assert tree_bytes(out) == tree_bytes(trained[0] / W / "models/base/sft")


# --- SIGKILL at a random point, then a rerun: byte-identical to an uninterrupted run --------------

KINDS = {
    "sft": ("sft", "", 8, 40),
    "lora": ("lora", "sft:\n  lora: {lr: 5.0e-3, max_steps: 40, batch_size: 16, max_length: 192, "
             "save_steps: 8, logging_steps: 4}\n  lora_adapter: {r: 8, alpha: 16, dropout: 0.0}\n", 8, 40),
    "kd-sequence": ("kd", "teacher: base\nkd:\n  mode: sequence\n  train: {lr: 3.0e-3, max_steps: 40, "
                    "batch_size: 16, max_length: 192, save_steps: 8, logging_steps: 4}\n", 8, 40),
    "kd-logit": ("kd", "teacher: base\nkd:\n  mode: logit\n  train: {lr: 3.0e-3, max_steps: 24, "
                 "batch_size: 8, max_length: 192, save_steps: 4, logging_steps: 2, "
                 "chunked_lm_head: true}\n", 4, 24),
    "grpo": ("rl", "", 4, 16),
}


def _traces(work: Path) -> None:
    """A traces file made from reference solutions (a fixture: the teacher stage is tested elsewhere)."""
    rows = [json.loads(line) for line in (work / W / "data/tinyworld/train.jsonl").read_text().splitlines()]
    traces = work / W / "traces/traces.jsonl"
    traces.parent.mkdir(parents=True, exist_ok=True)
    traces.write_text("".join(json.dumps({**r, "question_id": r["id"], "source": "fixture"}) + "\n"
                              for r in rows[:200]))


def _kill_at_random_point(cwd: Path, params: Path, pipeline: str, runs: Path, every: int,
                          steps: int, rng: random.Random) -> str:
    """Start the stage, wait for a random checkpoint, then SIGKILL it after a random delay (halved
    until the kill lands before the stage ends)."""
    target = rng.randrange(every, steps, every)
    delay = rng.uniform(0.0, 1.5)
    for _ in range(6):
        shutil.rmtree(runs, ignore_errors=True)
        proc = subprocess.Popen([sys.executable, "-m", "srlm.cli", "--params", str(params), "train",
                                 "--model", "base", "--pipeline", pipeline], cwd=cwd,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        deadline = time.time() + 300
        while not (runs / f"checkpoint-{target}" / "trainer_state.json").exists() and proc.poll() is None:
            assert time.time() < deadline, "no checkpoint appeared"
            time.sleep(0.02)
        time.sleep(delay)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return f"killed {delay:.2f} s after checkpoint-{target}"
        shutil.rmtree(runs.parent.parent.parent / "models/base" / pipeline, ignore_errors=True)
        delay /= 4
    raise AssertionError("the stage always ended before the kill")


@pytest.mark.parametrize("kind", list(KINDS))
def test_sigkill_at_a_random_point_then_rerun_is_byte_identical(work, trained, kind):
    """Must hold: SIGKILL anywhere in each training kind, then a rerun: the same bytes as a run that
    was never interrupted (model, tokenizer, train log, records)."""
    pipeline, extra, every, steps = KINDS[kind]
    params = variant(work, kind, extra)
    if pipeline == "kd":
        _traces(work)
    out = work / W / "models/base" / pipeline
    runs = work / W / "runs/base" / pipeline
    if kind == "sft":  # the resume params themselves: the shared uninterrupted run is the reference
        reference = tree_bytes(trained[0] / W / "models/base/sft")
    else:
        srlm(work, "train", "--model", "base", "--pipeline", pipeline, params=params)
        reference = tree_bytes(out)
        shutil.rmtree(out)
        shutil.rmtree(runs)
    seed = int(os.environ.get("SRLM_FAULT_SEED", time.time_ns() % 10_000))
    what = _kill_at_random_point(work, params, pipeline, runs, every, steps, random.Random(seed))
    if out.exists():  # the kill landed after the atomic rename: the output must then be whole
        assert tree_bytes(out) == reference, f"a killed stage left a partial output ({what})"
    done = last_json(srlm(work, "train", "--model", "base", "--pipeline", pipeline, params=params))
    assert done["global_step"] == steps
    assert tree_bytes(out) == reference, f"SRLM_FAULT_SEED={seed}: {what}"


def test_sigkill_during_evaluation_then_rerun_is_byte_identical(work):
    eval_dir = work / W / "eval"
    srlm(work, "eval", "--model", "base", "--bench", "tinyworld")
    reference = tree_bytes(eval_dir)
    shutil.rmtree(eval_dir)
    seed = int(os.environ.get("SRLM_FAULT_SEED", time.time_ns() % 10_000))
    proc = subprocess.Popen([sys.executable, "-m", "srlm.cli", "--params", str(PARAMS), "eval",
                             "--model", "base", "--bench", "tinyworld"], cwd=work, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    time.sleep(random.Random(seed).uniform(3.0, 8.0))
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = [p for p in eval_dir.rglob("*") if p.is_file() and not p.name.startswith(".")] \
        if eval_dir.exists() else []
    assert all(p.stat().st_size for p in finished)
    srlm(work, "eval", "--model", "base", "--bench", "tinyworld")
    assert tree_bytes(eval_dir) == reference, f"SRLM_FAULT_SEED={seed}"
