"""An application as a user writes it for ``uvicorn --workers N``: the broker comes from
``DATADIVR_BROKER``."""

from datadivr import create_app

app = create_app()
