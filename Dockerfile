# The licensing service. Keys and (for SQLite) the database live in the /data volume; in
# production set LICENSING_ENV=production, LICENSING_DATABASE_URL to PostgreSQL and mount keys
# made with `licensing keys generate`.
FROM python:3.11-slim

RUN useradd --system --create-home --home-dir /app licensing && mkdir /data && chown licensing /data
WORKDIR /app
COPY pyproject.toml README.md ./
COPY licensing licensing
COPY api api
COPY billing billing
COPY service service
COPY migrations migrations
RUN pip install --no-cache-dir . && rm -rf /root/.cache

USER licensing
ENV LICENSING_KEYS_DIR=/data/keys \
    LICENSING_DATABASE_URL=sqlite:////data/licensing.db \
    PYTHONUNBUFFERED=1
VOLUME /data
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz')"
CMD ["licensing", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
