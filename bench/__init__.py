"""Benchmarks for flowscope, and a generator of Metaflow-shaped local datastores."""
