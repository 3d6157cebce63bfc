#!/usr/bin/env bash
# Builds the Go test tools from the small build modules in tools/go/ (kube-apiserver, etcd, kstatus, argocd-lua,
# krew)
# with the Go module proxy, and links them into .tools/bin. Nothing prebuilt is downloaded and no other project's
# source is kept in the repo: go.mod/go.sum pin every module, the proxy serves them.
#
# Binaries are cached outside the work tree, keyed by the tool's version and a hash of its build module, in
# ${ECSBG_CACHE:-~/.cache/ecsbg}/bin/<tool>-<version>-<hash>; the module and build caches live under the same
# folder, so a second run (or CI on the same machine) reuses everything. The first kube-apiserver build takes
# 10-30 minutes on a 2-core machine; later runs take a second.
#
# Usage: scripts/build-go-tools.sh [TOOL...]   (default: every tool)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CACHE=${ECSBG_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ecsbg}
mkdir -p "$CACHE/bin" "$CACHE/logs" .tools/bin

GO=$(command -v go || true)
[ -n "$GO" ] || { [ -x /usr/local/go/bin/go ] && GO=/usr/local/go/bin/go; }
if [ -z "$GO" ]; then
  echo "build-go-tools: 'go' not found (Go 1.26 is needed to build the test tools)" >&2
  exit 2
fi
export GOPATH="$CACHE/go" GOMODCACHE="$CACHE/go/mod" GOCACHE="$CACHE/go/build"
export GOFLAGS="-trimpath -mod=readonly" GOTOOLCHAIN=local

# tool name | build module folder | package to build | module whose version names the binary | version stamp
# (kube-apiserver's /version comes from -X flags, as in Kubernetes' own hack/lib/version.sh)
VERSION_PKG=k8s.io/component-base/version
TOOLS=(
  "argocd-lua|lua|.|github.com/yuin/gopher-lua|"
  "kstatus|kstatus|.|sigs.k8s.io/cli-utils|"
  "etcd|etcd|go.etcd.io/etcd/server/v3|go.etcd.io/etcd/server/v3|"
  "krew|krew|sigs.k8s.io/krew/cmd/krew|sigs.k8s.io/krew|"
  "kube-apiserver|kube-apiserver|k8s.io/kubernetes/cmd/kube-apiserver|k8s.io/kubernetes|k8s"
)

stamp() {  # -ldflags for the version stamp
  local kind=$1 version=$2
  [ "$kind" = k8s ] || return 0
  local minor=${version#v*.}
  minor=${minor%%.*}
  printf -- '-X %s.gitVersion=%s -X %s.gitMajor=1 -X %s.gitMinor=%s -X %s.gitTreeState=clean' \
    "$VERSION_PKG" "$version" "$VERSION_PKG" "$VERSION_PKG" "$minor" "$VERSION_PKG"
}

build() {
  local name=$1 dir=$2 pkg=$3 versioned=$4 kind=$5
  local module="$ROOT/tools/go/$dir"
  local version hash out ldflags
  version=$(awk -v m="$versioned" '$1 == m {print $2; exit} $1 == "require" && $2 == m {print $3; exit}' "$module/go.mod")
  ldflags="-s -w $(stamp "$kind" "$version")"
  # the key: the build module's files and the recipe (package, flags), so any change builds anew
  hash=$( (cd "$module" && find . -maxdepth 1 -type f \( -name 'go.*' -o -name '*.go' \) | LC_ALL=C sort \
    | xargs cat; echo "$pkg $ldflags") | sha256sum | cut -c1-12)
  out="$CACHE/bin/$name-$version-$hash"
  if [ ! -x "$out" ]; then
    # one build per binary at a time, also across work trees sharing the cache
    exec 9>"$out.lock"
    flock 9
    if [ ! -x "$out" ]; then
      local log="$CACHE/logs/$name-$version-$hash.log" start=$SECONDS
      echo "build-go-tools: building $name $version (log: $log)"
      if ! (cd "$module" && nice -n 10 "$GO" build -ldflags="$ldflags" -o "$out.tmp" "$pkg") >"$log" 2>&1; then
        echo "build-go-tools: building $name failed:" >&2
        tail -n 40 "$log" >&2
        exit 1
      fi
      mv "$out.tmp" "$out"
      echo "build-go-tools: built $name $version in $((SECONDS - start)) s"
    fi
    exec 9>&-
  fi
  ln -sfn "$out" ".tools/bin/$name"
}

wanted=" $* "
for entry in "${TOOLS[@]}"; do
  IFS='|' read -r name dir pkg versioned kind <<<"$entry"
  if [ $# -eq 0 ] || [[ $wanted == *" $name "* ]]; then
    build "$name" "$dir" "$pkg" "$versioned" "$kind"
  fi
done
