"""Benchmarks of recur: each prints recur's rate next to a raw baseline measured in the same run.

`python -m bench.run_all` (`make bench`) runs them all, then bench.breakdown (where the time goes),
and writes docs/PERFORMANCE.md; `python -m bench.<name>` runs one. Environment:

- `BENCH_SCALE=0.2` multiplies every count (a quick check that the benchmarks still run);
- `BENCH_KEEP=1` keeps this run's databases in `.bench-data/pg` (the next run drops them);
- `BENCH_OUTPUT=path.md` writes the page (and `path.json`, its figures) elsewhere, e.g. to compare two environments;
- `python -m bench.run_all --render` rewrites the page from `.bench-data/last-run.json`.
"""
