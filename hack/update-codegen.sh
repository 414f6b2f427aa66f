#!/usr/bin/env bash
# Regenerates pkg/api/v1alpha1/zz_generated.deepcopy.go (the contract's
# DeepCopy methods, which make Reachability a runtime.Object) with
# Kubernetes' own deepcopy-gen, at the version of our k8s.io modules.
set -euo pipefail
cd "$(dirname "$0")/.."
GOFLAGS= go run k8s.io/code-generator/cmd/deepcopy-gen@v0.35.4 \
  --go-header-file hack/boilerplate.go.txt \
  --output-file zz_generated.deepcopy.go ./pkg/api/v1alpha1
