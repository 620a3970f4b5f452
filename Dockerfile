# syntax=docker/dockerfile:1
# The licensing service's image. Two stages: `build` makes wheels of the service and every dependency and
# installs them into a virtualenv; the runtime stage copies that virtualenv alone onto a fresh
# python:3.11-slim (no compiler, no build tools, no test tools, no pip cache, no source tree).
#
#   docker build -t licensing .
#   docker run -p 8000:8000 -v licensing-data:/data --env-file .env licensing
#
# Keys and (for SQLite) the database live in the /data volume. In production set LICENSING_ENV=production,
# LICENSING_DATABASE_URL to PostgreSQL and mount the signing keys made with `licensing keys generate`
# (docs/operations.md).

# --- build: wheels of the service and its dependencies, installed into /opt/venv -----------------------
FROM python:3.11-slim AS build

# Bytecode is compiled at install time (into the virtualenv the runtime copies), so starts are quick.
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY licensing licensing
COPY api api
COPY billing billing
COPY service service
COPY migrations migrations
RUN pip wheel --wheel-dir /wheels . \
 && python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-index --find-links /wheels licensing-service \
 && /opt/venv/bin/pip uninstall --yes pip setuptools

# --- runtime: the virtualenv only, run by an unprivileged user ------------------------------------------
FROM python:3.11-slim AS runtime

RUN useradd --system --uid 10001 --user-group --create-home --home-dir /app licensing \
 && mkdir -m 0700 /data \
 && chown licensing:licensing /data
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    LICENSING_KEYS_DIR=/data/keys \
    LICENSING_DATABASE_URL=sqlite:////data/licensing.db

USER licensing
WORKDIR /app
VOLUME ["/data"]
EXPOSE 8000
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4).status != 200)"]
# More worker processes: override the command, e.g. `licensing serve --host 0.0.0.0 --workers 4`.
CMD ["licensing", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
