# syntax=docker/dockerfile:1
# The vpnservice bot. Build and run it with PostgreSQL: docker compose up -d --build
# (docs/deploy.md). Data (database when SQLite, SSH key, secret.key, backups) is in /app/data.

# --- build: the locked dependencies into /app/.venv --------------------------------------------
FROM python:3.11-slim-bookworm AS build
RUN pip install --no-cache-dir uv==0.13.9
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /app
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev

# --- run ---------------------------------------------------------------------------------------
FROM python:3.11-slim-bookworm
# fonts-dejavu-core: Cyrillic in the /stats charts. postgresql-client-15: pg_dump and pg_restore
# for backups; its major version must be the db service's in compose.yaml (bookworm ships 15).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        ca-certificates fonts-dejavu-core postgresql-client-15 tzdata \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 vpnservice \
    && useradd --system --uid 10001 --gid vpnservice --home-dir /app/data --no-create-home \
        --shell /usr/sbin/nologin vpnservice
WORKDIR /app
COPY --from=build /app/.venv /app/.venv
COPY . .
RUN python -m compileall -q bot handlers keyboards services nodes payments web migrations main.py \
    && mkdir -p /app/data \
    && chown vpnservice:vpnservice /app/data \
    && chmod 700 /app/data
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DATA_DIR=/app/data \
    WEB_HOST=0.0.0.0 \
    WEB_PORT=8080
VOLUME ["/app/data"]
EXPOSE 8080
USER 10001:10001
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('WEB_PORT', '8080') + '/healthz', timeout=4)"]
STOPSIGNAL SIGTERM
CMD ["python", "main.py", "run"]
