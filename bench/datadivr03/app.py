"""datadivr 0.3's own app, with the logging ``datadivr start-server`` sets up by default.

Run in ``bench/.venv-0.3`` with ``bench/datadivr03/shim`` on ``PYTHONPATH``::

    python -m uvicorn bench.datadivr03.app:app --port 8765

``start-server`` (0.3's CLI) calls ``setup_logging(level="INFO", pretty=True)`` and serves
0.3's app: that is what a user gets, so it is what is measured. Its handlers (``sum_event``
among them) register when the app's module is imported. What the CLI adds and this does not:
the static file mount (it needs a ``./static`` directory; nothing on ``/ws`` uses it) and its
own uvicorn settings (the benchmark gives every server the same ones).
"""

from __future__ import annotations

from datadivr import app
from datadivr.utils.logging import setup_logging

__all__ = ["app"]

setup_logging(level="INFO", pretty=True)
