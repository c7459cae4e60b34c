"""datadivr 0.3 from PyPI, run from its own environment (``bench/.venv-0.3``)."""
