"""Speed and memory benchmarks of AMCCL (see benchmarks/README.md); run all: ``python -m benchmarks``."""
