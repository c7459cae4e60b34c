"""``datadivr.core``: the package the datadivr 0.3 wheel imports but does not ship.

Written for the benchmark from what the wheel's own code asks of it; see
``bench/datadivr03/README.md``.
"""
