"""The benchmark suite (`make bench`): the pump against its limits; see docs/benchmarks.md."""
