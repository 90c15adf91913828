# The one image of the production stack. It runs the Dagster webserver, daemon and code server,
# and the Spark master and workers: pyspark ships `bin/spark-class`, so the executors get the
# same interpreter, the same dependencies and the project's own `spark/` code as the driver.
# Build: `docker compose build` (the compose file tags it airstream:<pyproject version>).
FROM python:3.11.14-slim-bookworm

# Spark runs on a JVM. The slim image drops man pages, and a JRE's post-install step still
# expects their directory to exist.
RUN mkdir -p /usr/share/man/man1 \
    && apt-get update \
    && apt-get install -y --no-install-recommends openjdk-17-jre-headless \
    && rm -rf /var/lib/apt/lists/*

# uv pinned: `uv sync --frozen` installs exactly the committed uv.lock.
RUN pip install --no-cache-dir "uv==0.13.9"

ENV PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_NO_CACHE=1 \
    UV_PYTHON_DOWNLOADS=never \
    PATH=/app/.venv/bin:$PATH \
    DO_NOT_TRACK=1 \
    DAGSTER_HOME=/opt/dagster/home \
    DATA_DIR=/lake

# One unprivileged user for every service. The directories that named volumes mount over are
# created here with its ownership, which a new volume copies.
RUN useradd --create-home --uid 1000 airstream \
    && mkdir -p /app/api-keys /lake /opt/dagster/home/storage \
    && chown -R airstream:airstream /app /lake /opt/dagster
USER airstream
WORKDIR /app

# Dependencies first: this layer is rebuilt only when the lock changes, not on every code edit.
COPY --chown=airstream:airstream pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project

# The project itself, installed editable: assets/dbt_project.py finds the dbt project next to
# the code (a wheel in site-packages would not carry dbt/). It adds no start-up hook: the
# code location is named by each command (compose: `-m`, `-w`, DAGSTER_MODULE_NAME in
# dagster-code alone). hatchling needs the README to build the project.
COPY --chown=airstream:airstream README.md ./
COPY --chown=airstream:airstream orchestration orchestration
COPY --chown=airstream:airstream assets assets
COPY --chown=airstream:airstream spark spark
COPY --chown=airstream:airstream dbt dbt
RUN uv sync --frozen --no-dev

# The dbt manifest is part of the image: run workers never parse at start-up (about 5 s each).
# `dbt parse` opens no connection, so the placeholder WAREHOUSE_* defaults are enough.
RUN cd dbt && dbt parse --quiet --target prod

# The JVM's class archive of Spark (orchestration/resources/spark_classes.py): every driver and
# Spark step starts a few seconds sooner. Optional: without it Spark loads its classes itself.
RUN python -m orchestration.resources.spark_classes \
    || echo "warning: no Spark class archive; Spark starts without it"

# The instance: PostgreSQL storage, queued runs with a Spark concurrency limit, run retries.
COPY --chown=airstream:airstream orchestration/instance/prod.yaml /opt/dagster/home/dagster.yaml
