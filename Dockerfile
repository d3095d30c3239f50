# One image for every role of a loadkit fleet; the command picks the role:
#   locust --master | locust --worker --master-host master      (locustfile from LOCUST_LOCUSTFILE)
#   loadkit target http|grpc --host 0.0.0.0 | loadkit agent --host 0.0.0.0
# docker-compose.yml runs them all; see docs/containers.md.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --create-home --uid 1000 --shell /usr/sbin/nologin loadkit

# Dependencies first, from pyproject.toml alone (placeholder packages), so that editing
# loadkit's code rebuilds only the small layer below, not the dependency install.
WORKDIR /src
COPY pyproject.toml ./
RUN mkdir loadkit \
    && touch README.md loadkit/__init__.py \
    && pip install . \
    && pip uninstall -y loadkit \
    && rm -rf /src/*

# The package itself (no test extra: no pytest, ruff, mypy or browsers in the image).
# loadkit/targets and loadkit/proto are symlinks to ../targets and ../proto: copy those too,
# the wheel then holds them as loadkit.targets and loadkit/proto.
COPY README.md pyproject.toml setup.py loadkit-locust-help.pth ./
COPY loadkit ./loadkit
COPY targets ./targets
COPY proto ./proto
RUN pip install --no-deps . && rm -rf /src

# Defaults baked in; compose mounts ./locustfiles and ./data over them.
WORKDIR /app
COPY locustfiles ./locustfiles
COPY data ./data
COPY proto ./proto
RUN mkdir loadkit-reports && chown loadkit:loadkit loadkit-reports

USER loadkit

# web UI, master<->workers (ZeroMQ), HTTP target, gRPC target, loadkit agent
EXPOSE 8089 5557 8080 50051 9100
CMD ["loadkit", "--help"]
