"""The browser example, served by a datadivr server: ``python examples/browser/serve.py``.

Run ``make browser-example`` first (it installs Ajv's browser bundle with npm), then open
http://127.0.0.1:8765/example/. The page is served from the same origin as ``/schema`` and
``/ws``, so it needs no CORS.
"""

from pathlib import Path

from starlette.staticfiles import StaticFiles

from datadivr import create_app, run

app = create_app()
app.mount("/example", StaticFiles(directory=Path(__file__).parent, html=True), name="example")

if __name__ == "__main__":
    run(app, host="127.0.0.1", port=8765)
