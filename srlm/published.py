"""Published numbers beside ours: ``references/published.yaml`` matched to the cells of a profile.

A reference matches a cell when its ``model`` is the hub id the cell's model comes from
(``models.NAME.source``), its ``pipeline`` is the cell's (``none``: untrained) and its ``benchmark`` is
one of the profile's. The CPU profile's tiny models match nothing.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from .config import Params

REFERENCES = Path("references") / "published.yaml"
"""Read from the working directory (the project's root, like the params files); a table job lists it
as an input when it is there."""
FIELDS = ("model", "pipeline", "benchmark", "score", "method", "source", "protocol")


def load_references(path: Path = REFERENCES) -> dict:
    """The references file, each entry checked: its fields present, its source and protocol known."""
    data = yaml.safe_load(path.read_text())
    for i, ref in enumerate(data["references"]):
        missing = [f for f in FIELDS if f not in ref]
        if missing or ref["source"] not in data["sources"] or ref["protocol"] not in data["protocols"]:
            raise ValueError(f"{path}: reference {i} ({ref.get('method')}): missing {missing} or an "
                             f"unknown source/protocol")
        if not isinstance(ref["score"], (int, float)):
            raise ValueError(f"{path}: reference {i}: score {ref['score']!r} is not a number")
    return data


def counterparts(params: Params, model: str, pipeline: str, ours: dict[str, float],
                 data: dict | None = None) -> list[dict]:
    """The published counterparts of one cell (``ours``: benchmark -> our accuracy %), with our delta,
    the source's title and URL and its protocol, in the file's order."""
    data = data if data is not None else load_references()
    source = params.models[model].source
    shown = "none" if pipeline == "init" else pipeline
    out = []
    for ref in data["references"]:
        if ref["model"] == source and ref["pipeline"] == shown and ref["benchmark"] in ours:
            src = data["sources"][ref["source"]]
            out.append({**ref, "label": params.models[model].label or model,
                        "ours": ours[ref["benchmark"]],
                        "delta": round(ours[ref["benchmark"]] - ref["score"], 2),
                        "title": src["title"], "url": src["url"],
                        "protocol_text": data["protocols"][ref["protocol"]]})
    return out


def markdown(rows: list[dict]) -> str:
    """The counterparts as a Markdown table (empty when there are none)."""
    if not rows:
        return ""
    lines = ["| model | pipeline | benchmark | ours | published | Δ (ours − published) | their method | "
             "their protocol | source |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['label']} | {r['pipeline']} | {r['benchmark']} | {r['ours']:.1f} | "
                     f"{r['score']:.1f} | {r['delta']:+.1f} | {r['method']} | {r['protocol_text']} | "
                     f"[{r['title']}]({r['url']}) |")
    return "\n".join(lines)


def table_counterparts(params: Params, runs: list[tuple[str, str]], df) -> list[dict]:
    """The counterparts of a table's cells (``df``: its rows, one per ``runs`` entry, in order); none
    when the working directory has no references file."""
    if not REFERENCES.is_file():
        return []
    data = load_references()
    out = []
    for (model, pipeline), (_, row) in zip(runs, df.iterrows()):
        out += counterparts(params, model, pipeline, {b: row[b] for b in params.eval.benchmarks}, data)
    return out


def markdown_section(params: Params, runs: list[tuple[str, str]], df) -> str:
    """A table's Markdown section of published counterparts ("" when it has none)."""
    rows = table_counterparts(params, runs, df)
    if not rows:
        return ""
    return ("\n## Published counterparts\n\n" + markdown(rows) + "\n\nΔ: ours minus the published "
            "number. The protocols differ (ours: each metrics JSON's `protocol`; theirs: the source's).\n")
