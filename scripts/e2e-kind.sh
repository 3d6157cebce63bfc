#!/usr/bin/env bash
# End-to-end run on a real Kubernetes API: a throwaway kind cluster, our CRD, the operator image installed with
# the Helm chart, then the integration tests with K8S_E2E=1 (tests/plugins/k8s.py then uses the current context
# instead of the local devcluster). The cluster is deleted on exit unless KEEP_CLUSTER=1.
#
# Needs docker (a running daemon), kind, kubectl and helm on PATH, plus the project venv (`make venv`).
# It has NOT been run in the project's own sandbox, which has no Docker daemon (docs/devcluster.md).
#
# Environment:
#   KIND_CLUSTER_NAME  cluster name (default ecsbg-e2e)
#   KIND_IMAGE         node image, e.g. kindest/node:v1.33.1 (default: the kind release's own default)
#   E2E_IMAGE          operator image tag to build and load (default ecs-bluegreen-operator:e2e)
#   E2E_LOGS           where `kind export logs` writes on failure (default ./e2e-logs)
#   KEEP_CLUSTER=1     keep the cluster for debugging
#   PYTEST_ARGS        extra pytest arguments
set -euo pipefail
cd "$(dirname "$0")/.."

CLUSTER=${KIND_CLUSTER_NAME:-ecsbg-e2e}
IMAGE=${E2E_IMAGE:-ecs-bluegreen-operator:e2e}
LOGS=${E2E_LOGS:-e2e-logs}
OPERATOR_NS=ecsbg-system
WATCHED_NS=ecsbg-e2e
PYTHON=${PYTHON:-.venv/bin/python}

for tool in docker kind kubectl helm; do
  command -v "$tool" >/dev/null 2>&1 || { echo "e2e: '$tool' not found on PATH" >&2; exit 2; }
done
docker info >/dev/null 2>&1 || { echo "e2e: no Docker daemon reachable" >&2; exit 2; }
[ -x "$PYTHON" ] || { echo "e2e: $PYTHON not found; run 'make venv' first" >&2; exit 2; }

# A kubeconfig of our own: never touch the user's contexts (kind writes the context kind-$CLUSTER here).
KUBECONFIG=$(mktemp -d)/kubeconfig
export KUBECONFIG

cleanup() {
  status=$?
  if [ "$status" -ne 0 ]; then
    echo "e2e: failed ($status); operator logs and kind logs follow / go to $LOGS" >&2
    kubectl -n "$OPERATOR_NS" logs -l app.kubernetes.io/instance=ecsbg --all-containers --tail=200 2>/dev/null || true
    kind export logs "$LOGS" --name "$CLUSTER" >/dev/null 2>&1 || true
  fi
  if [ "${KEEP_CLUSTER:-0}" = 1 ]; then
    echo "e2e: keeping cluster $CLUSTER (KUBECONFIG=$KUBECONFIG)"
  else
    kind delete cluster --name "$CLUSTER" >/dev/null 2>&1 || true
  fi
  exit "$status"
}
trap cleanup EXIT

echo "--- kind cluster $CLUSTER"
kind create cluster --name "$CLUSTER" ${KIND_IMAGE:+--image "$KIND_IMAGE"} --kubeconfig "$KUBECONFIG" --wait 180s
kubectl cluster-info

echo "--- CRD"
kubectl apply -f crds/
kubectl wait --for=condition=Established crd/ecsbluegreenreleases.ecsbg.dev --timeout=60s

echo "--- operator image $IMAGE"
docker build -t "$IMAGE" .
kind load docker-image "$IMAGE" --name "$CLUSTER"

echo "--- operator (Helm chart, watching only $WATCHED_NS so it leaves the tests' namespaces to their own kopf)"
kubectl create namespace "$WATCHED_NS"
helm upgrade --install ecsbg charts/ecs-bluegreen-operator \
  --namespace "$OPERATOR_NS" --create-namespace \
  --set image.repository="${IMAGE%:*}" --set image.tag="${IMAGE##*:}" --set image.pullPolicy=Never \
  --set "watchNamespaces={$WATCHED_NS}" --set aws.region=us-east-1 \
  --wait --timeout 180s
kubectl -n "$OPERATOR_NS" wait --for=condition=Available deployment -l app.kubernetes.io/instance=ecsbg \
  --timeout=120s

echo "--- the deployed operator writes a status the real apiserver accepts (RBAC, /status, schema pruning)"
kubectl -n "$WATCHED_NS" apply -f examples/linear.yaml
name=$(kubectl -n "$WATCHED_NS" get -f examples/linear.yaml -o jsonpath='{.metadata.name}')
# There are no AWS credentials in kind: any phase (Pending, Failed, ...) proves the write path; none means the
# status never got through.
for _ in $(seq 1 60); do
  phase=$(kubectl -n "$WATCHED_NS" get ecsrelease "$name" -o jsonpath='{.status.phase}')
  [ -n "$phase" ] && break
  sleep 2
done
kubectl -n "$WATCHED_NS" get ecsreleases -o wide
[ -n "$phase" ] || { kubectl -n "$WATCHED_NS" get ecsrelease "$name" -o yaml; echo "e2e: no status.phase" >&2; exit 1; }

echo "--- integration tests against the real apiserver"
# shellcheck disable=SC2086
K8S_E2E=1 "$PYTHON" -m pytest tests/devcluster ${PYTEST_ARGS:-}
# other suites mark their cluster tests with `e2e`; exit code 5 means none are collected, which is fine
set +e
# shellcheck disable=SC2086
K8S_E2E=1 "$PYTHON" -m pytest -m e2e tests --ignore=tests/devcluster ${PYTEST_ARGS:-}
code=$?
set -e
[ "$code" -eq 0 ] || [ "$code" -eq 5 ] || exit "$code"
echo "e2e: OK"
