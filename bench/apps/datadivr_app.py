"""DATADIVR as the README starts it under uvicorn: ``uvicorn module:app`` over ``create_app()``,
with uvicorn's own protocols and defaults."""

from __future__ import annotations

from datadivr import create_app

app = create_app()
