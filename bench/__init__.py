"""Benchmarks of recur: each prints recur's rate next to a raw baseline measured in the same run.

`python -m bench.run_all` (or `make bench`) runs them all and writes docs/PERFORMANCE.md;
`python -m bench.<name>` runs one. `BENCH_SCALE=0.2` shrinks every count for a quick check.
"""
