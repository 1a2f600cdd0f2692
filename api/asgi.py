"""The ASGI application uvicorn imports: `api.asgi:app`."""

from api import logs
from api.app import create_app
from api.settings import load_settings

settings = load_settings()
app = create_app(settings)
# In every worker process too (uvicorn starts them afresh): uvicorn's, asyncpg's and other
# libraries' records become lines of the same log.
logs.route_stdlib_logging(settings.log_level)
