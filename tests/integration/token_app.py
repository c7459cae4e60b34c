"""An application as a user writes it for plain ``uvicorn module:app``, with uvicorn's own
logging: the shared token comes from ``DATADIVR_TOKEN``."""

import os

from datadivr import create_app

app = create_app(token=os.environ["DATADIVR_TOKEN"])
