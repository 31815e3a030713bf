# One image for the API and the worker (the command picks which).
FROM python:3.11-slim
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
# A container is reached from outside it (`docker run -p 8000:8000`), so the API listens on every
# interface; and it runs as production, so a forgotten PAYLOAD_KEYS or DATABASE_URL stops it at start
# instead of giving each container a key of its own and an embedded database.
ENV API_HOST=0.0.0.0 ENV=production
COPY pyproject.toml README.md constraints.txt ./
COPY shared ./shared
COPY workflows ./workflows
COPY activities ./activities
COPY api ./api
COPY worker ./worker
COPY extraction ./extraction
COPY eval ./eval
COPY stack ./stack
# Bytecode for /app too: the workflow sandbox re-imports workflow modules for every run.
# DATA_DIR (/app/.data) is the service user's: ARTIFACT_STORE=local writes there. The image runs against
# real Temporal, Postgres and BigQuery: the [local] extra (dev server, embedded Postgres, DuckDB) is left
# out, and ANALYTICS=local or an unset DATABASE_URL says so at start. The versions are CI's (constraints.txt).
RUN pip install --no-cache-dir -c constraints.txt . && python -m compileall -q /app \
    && useradd --create-home --uid 1000 minimeter \
    && mkdir -p /app/.data && chown minimeter /app/.data
USER minimeter
EXPOSE 8000
CMD ["python", "-m", "api"]
