FROM python:3.11-slim
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY pyproject.toml README.md ./
COPY api ./api
COPY queries ./queries
RUN pip install --no-cache-dir .
COPY sql ./sql
COPY migrations ./migrations
COPY static ./static
ENV HOST=0.0.0.0 PORT=8000 STATIC_DIR=/app/static
EXPOSE 8000
USER nobody
CMD ["python", "-m", "api", "serve"]
