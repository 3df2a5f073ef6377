"""The data stage on real GSM8K (offline mirror) and on the synthetic task."""

from __future__ import annotations

import json
import shutil

import pytest

from srlm.config import Params, load_params, read_raw
from srlm.data import gsm8k_final, run_data
from srlm.io import DataError, read_jsonl
from srlm.tinyworld import generate_splits

from .conftest import REPO


@pytest.fixture(autouse=True)
def _params_mirror_only(monkeypatch):
    """These tests point ``mirror`` at edited copies: a global ``$SRLM_MIRROR`` must not win."""
    monkeypatch.delenv("SRLM_MIRROR", raising=False)


def _params(tmp_path, mirror):
    return load_params(REPO / "params" / "tiny.yaml",
                       {"workdir": str(tmp_path / "work"), "mirror": str(mirror)})


def test_gsm8k_from_mirror(tmp_path, mirror):
    params = _params(tmp_path, mirror)
    manifest = run_data(params, "gsm8k", tmp_path / "gsm8k")
    assert manifest["splits"]["test"] == 1319
    assert manifest["splits"]["train"] + manifest["splits"]["val"] + \
        manifest["train_duplicates_removed"] + manifest["train_test_overlap_removed"] == 7473
    assert all(o["verified"] and o["from"] == "mirror" for o in manifest["origin"].values())
    test = read_jsonl(tmp_path / "gsm8k" / "test.jsonl", required=("id", "question", "answer", "cot"))
    assert test[0]["answer"] == "18" and "\\boxed{18}" in test[0]["cot"] and "<<" not in test[0]["cot"]
    # every gold answer is a number once commas are gone
    assert all(float(r["answer"]) == float(r["answer"]) for r in test)


def test_gold_extraction_recovers_every_test_answer(mirror):
    raw = [json.loads(line) for line in (mirror / "gsm8k" / "test.jsonl").open()]
    answers = [gsm8k_final(r["answer"]) for r in raw]
    assert len(answers) == 1319
    assert all(a.lstrip("-").replace(".", "", 1).isdigit() for a in answers)


@pytest.fixture
def broken_mirror(tmp_path, mirror):
    root = tmp_path / "mirror"
    (root / "gsm8k").mkdir(parents=True)
    for split in ("train", "test"):
        shutil.copy(mirror / "gsm8k" / f"{split}.jsonl", root / "gsm8k" / f"{split}.jsonl")
    return root


def test_checksum_mismatch_stops(tmp_path, broken_mirror):
    path = broken_mirror / "gsm8k" / "test.jsonl"
    path.write_bytes(path.read_bytes().replace(b"#### 18", b"#### 19", 1))
    with pytest.raises(DataError, match="sha256 mismatch"):
        run_data(_params(tmp_path, broken_mirror), "gsm8k", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def _unchecked(tmp_path, mirror):
    """Params without the sha256 pins, so edited mirror files get past the checksum."""
    raw = read_raw(REPO / "params" / "tiny.yaml")
    raw.update(workdir=str(tmp_path / "work"), mirror=str(mirror))
    raw["datasets"]["gsm8k"]["sha256"] = {}
    return Params.model_validate(raw)


def _edit_line(path, index: int, edit) -> None:
    """Replace line ``index`` (0-based) of a text file by ``edit(line)``."""
    lines = path.read_text().splitlines()
    lines[index] = edit(lines[index])
    path.write_text("\n".join(lines) + "\n")


def _edit_row(path, index: int, edit) -> None:
    """Edit the JSON row on line ``index`` in place (``edit`` mutates the dict)."""
    def rewrite(line: str) -> str:
        row = json.loads(line)
        edit(row)
        return json.dumps(row)
    _edit_line(path, index, rewrite)


def test_malformed_row_names_file_and_line(tmp_path, broken_mirror):
    _edit_line(broken_mirror / "gsm8k" / "test.jsonl", 41, lambda line: line[:-5])  # truncated JSON
    with pytest.raises(DataError, match=r"test\.jsonl:42: malformed JSON"):
        run_data(_unchecked(tmp_path, broken_mirror), "gsm8k", tmp_path / "out")


def test_missing_field_names_file_and_line(tmp_path, broken_mirror):
    _edit_row(broken_mirror / "gsm8k" / "train.jsonl", 6, lambda row: row.pop("answer"))
    with pytest.raises(DataError, match=r"train\.jsonl:7: missing field\(s\) answer"):
        run_data(_unchecked(tmp_path, broken_mirror), "gsm8k", tmp_path / "out")


def test_missing_final_answer_names_line(tmp_path, broken_mirror):
    _edit_row(broken_mirror / "gsm8k" / "test.jsonl", 2,
              lambda row: row.update(answer=row["answer"].split("####")[0]))
    with pytest.raises(DataError, match=r"test\.jsonl:3: .*no '####'"):
        run_data(_unchecked(tmp_path, broken_mirror), "gsm8k", tmp_path / "out")


def test_train_is_deduplicated_and_decontaminated(tmp_path, broken_mirror):
    train = broken_mirror / "gsm8k" / "train.jsonl"
    test_first = (broken_mirror / "gsm8k" / "test.jsonl").read_text().splitlines()[0]
    lines = train.read_text().splitlines()
    train.write_text("\n".join(lines + [lines[0], lines[1], test_first]) + "\n")
    manifest = run_data(_unchecked(tmp_path, broken_mirror), "gsm8k", tmp_path / "out")
    assert manifest["train_duplicates_removed"] == 2
    assert manifest["train_test_overlap_removed"] == 1


def test_tinyworld_pretrain_step_weights():
    """Weights set how often each step count occurs in pre-training; train and test keep theirs."""
    uniform = generate_splits(100, 100, 1000, 3, 20, 3, seed=3)
    rare = generate_splits(100, 100, 1000, 3, 20, 3, seed=3, pretrain_step_weights=[1, 1, 0.1])

    def share(rows, steps):
        return sum(r["cot"].count("\n") == steps for r in rows) / len(rows)

    assert share(uniform["pretrain"], 3) > 0.25 and 0.02 < share(rare["pretrain"], 3) < 0.09
    assert uniform["test"] == rare["test"] and uniform["train"] == rare["train"]


def test_tinyworld_is_seeded_and_disjoint():
    a = generate_splits(300, 100, 300, 3, 20, 2, seed=3)
    b = generate_splits(300, 100, 300, 3, 20, 2, seed=3)
    assert a == b
    test_q = {r["question"] for r in a["test"]}
    assert not test_q & {r["question"] for r in a["train"] + a["pretrain"]}
    for row in a["train"]:
        lines = row["cot"].splitlines()
        assert lines[-1] == f"#### {row['answer']}"
        for line in lines[:-1]:  # every working line is correct arithmetic
            lhs, rhs = line.split(" = ")
            assert eval(lhs) == int(rhs) >= 0  # noqa: S307 - generated "a + b" strings
