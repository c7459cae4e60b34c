"""The servers the benchmark runs, one module each, every one an ASGI ``app`` for uvicorn."""
