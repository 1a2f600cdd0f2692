"""The ASGI application uvicorn imports: `api.asgi:app`."""

from api.app import create_app
from api.settings import load_settings

app = create_app(load_settings())
