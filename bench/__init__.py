"""Benchmarks (not tests): each script prints its command and its figures; `bash bench/run` runs them."""
