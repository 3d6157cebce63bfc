// Build module for the argocd-lua test tool (scripts/build-go-tools.sh).
module ecsbg.dev/tools/argocd-lua

go 1.26.0

require github.com/yuin/gopher-lua v1.1.2
