"""Tests of the benchmark's own logic (``bench/``), without the servers it measures."""
