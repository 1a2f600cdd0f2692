FROM python:3.11-slim
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
# The locked versions, checked against their hashes (scripts/dev.sh installs the same lock).
COPY requirements/serve.txt ./requirements/
RUN pip install --no-cache-dir --require-hashes -r requirements/serve.txt
COPY pyproject.toml README.md ./
COPY api ./api
COPY queries ./queries
RUN pip install --no-cache-dir --no-deps .
COPY sql ./sql
COPY migrations ./migrations
COPY static ./static
ENV HOST=0.0.0.0 PORT=8000 STATIC_DIR=/app/static
EXPOSE 8000
USER nobody
CMD ["python", "-m", "api", "serve"]
