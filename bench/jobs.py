"""Where a graph run's time went: the Snakemake ``benchmark:`` files of every job, summed per rule.

    python bench/jobs.py work/tiny            # after `make tiny` (or any profile's workdir)

Each model, teacher, training and evaluation job writes ``{workdir}/benchmarks/.../*.tsv`` (wall
seconds, peak RSS). This prints the jobs by wall time and the totals per rule, so SLURM resources
(``resources:`` in params) and the CPU profile's budget can be set from measurements.
"""

from __future__ import annotations

import argparse
import csv
from collections import defaultdict
from pathlib import Path


def read_jobs(root: Path) -> list[tuple[str, float, float]]:
    """(job, wall seconds, max RSS MB) for every benchmark file under ``root/benchmarks``."""
    jobs = []
    for path in sorted((root / "benchmarks").rglob("*.tsv")):
        with path.open() as f:
            row = next(csv.DictReader(f, delimiter="\t"))
        rss = float(row["max_rss"]) if row.get("max_rss", "NA") != "NA" else float("nan")
        jobs.append((str(path.relative_to(root / "benchmarks").with_suffix("")), float(row["s"]), rss))
    return jobs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    jobs = read_jobs(args.workdir)
    if not jobs:
        raise SystemExit(f"no benchmark files under {args.workdir / 'benchmarks'}: run the graph first")
    for name, wall, rss in sorted(jobs, key=lambda j: -j[1])[:args.top]:
        print(f"{wall:8.1f} s  {rss:7.0f} MB  {name}")
    per_rule: dict[str, list[float]] = defaultdict(list)
    for name, wall, _ in jobs:
        per_rule[name.split("/")[0]].append(wall)
    print("\nrule        jobs   total s   mean s")
    for rule, walls in sorted(per_rule.items(), key=lambda kv: -sum(kv[1])):
        print(f"{rule:10s} {len(walls):5d} {sum(walls):9.1f} {sum(walls) / len(walls):8.1f}")
    print(f"{'all':10s} {len(jobs):5d} {sum(w for _, w, _ in jobs):9.1f}")


if __name__ == "__main__":
    main()
