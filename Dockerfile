# syntax=docker/dockerfile:1
# Image of the ecsbg operator: `docker build -t ecs-bluegreen-operator:0.1.0 .`
# Two stages: the build stage installs the locked dependency tree (constraints.txt) and the operator into a
# virtualenv; the runtime stage gets only that virtualenv, so pip caches, the source tree and any build
# tooling stay out of the shipped image. The base is pinned by exact tag; for a reproducible supply chain,
# append the digest you reviewed (python:3.11.14-slim-bookworm@sha256:...).

FROM python:3.11.14-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
# Every dependency ships a manylinux wheel for CPython 3.11, so no compiler is installed here either.
RUN python -m venv /opt/venv
COPY pyproject.toml constraints.txt README.md ./
COPY operator/ operator/
# A regular (non-editable) install: the venv is self-contained and does not need /src at run time.
# constraints.txt pins the whole resolved tree, so the image gets exactly the tested versions.
RUN /opt/venv/bin/pip install --no-cache-dir --constraint constraints.txt . \
    && /opt/venv/bin/python -c "import ecsbg.main"

FROM python:3.11.14-slim-bookworm AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="ecs-bluegreen-operator" \
      org.opencontainers.image.description="Kubernetes operator for Amazon ECS native blue/green, linear and canary deployments" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="docker.io/library/python:3.11.14-slim-bookworm"
# A fixed numeric UID/GID (65532, the distroless "nonroot" convention) matches the chart's runAsUser, so
# Kubernetes can verify runAsNonRoot without reading /etc/passwd.
RUN groupadd --system --gid 65532 ecsbg \
    && useradd --system --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin ecsbg
COPY --from=build /opt/venv /opt/venv
ENV PATH="/opt/venv/bin:${PATH}" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ECSBG_REVISION="${REVISION}"
USER 65532:65532
WORKDIR /tmp
# 8080: Prometheus /metrics (ECSBG_METRICS_PORT); 8081: kopf liveness /healthz (ECSBG_HEALTH_PORT).
EXPOSE 8080 8081
ENTRYPOINT ["ecsbg", "run"]
