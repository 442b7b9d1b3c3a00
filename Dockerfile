# signoff in hosted (read-only team) mode: marimo run behind a token password.
#
#   docker build -t signoff .
#   docker run -p 8080:8080 -v signoff-data:/data \
#     -v "$PWD/signoff-token:/run/secrets/signoff-token:ro" signoff
#
# The token file must be readable by uid 10001. The audit trail, review queue, AI cache and
# kept source files live in the /data volume, so they outlive the container.
FROM python:3.11-slim-bookworm

COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /uvx /bin/

ENV UV_PROJECT_ENVIRONMENT=/opt/venv \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

WORKDIR /app

# Dependencies exactly as locked, without the dev group; in their own layer so a code
# change does not reinstall them.
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-cache

COPY app.py ./
COPY server ./server
COPY flow ./flow
COPY steps ./steps
COPY review ./review
COPY ai ./ai
COPY samples ./samples

RUN useradd --system --uid 10001 --user-group --home-dir /data --shell /usr/sbin/nologin signoff \
    && mkdir -p /data \
    && chown signoff:signoff /data

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    HOME=/data \
    SIGNOFF_HOSTED=1 \
    SIGNOFF_DB=/data/signoff.db \
    SIGNOFF_WORKSPACE=/data/workspace

VOLUME ["/data"]
# The code stays root-owned and read-only to the app; DuckDB spills and caches go to /data.
WORKDIR /data
USER signoff
EXPOSE 8080

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/health', timeout=4)"]

# Never --show-tracebacks here: viewers would see server paths and code.
CMD ["python", "-m", "server", "--app", "/app/app.py", "--host", "0.0.0.0", "--port", "8080", \
     "--token-password-file", "/run/secrets/signoff-token"]
