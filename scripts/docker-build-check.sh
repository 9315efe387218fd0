#!/usr/bin/env bash
# The container checks that need no Docker engine (called by .ci/run after npm test):
#  - docker compose config -q, when the docker client has the compose plugin (it needs no engine);
#  - kubectl kustomize deploy/k8s, when kubectl is installed (offline);
#  - scripts/docker-build-check.mjs: replays the Dockerfile's stages on this host from a clean copy,
#    then starts the runtime stage as the stack does (migrate, api, worker) and stops it with SIGTERM.
# Arguments go to the .mjs (--keep, --no-node24, --ref REV).
set -euo pipefail
cd "$(dirname "$0")/.."

if docker compose version >/dev/null 2>&1; then
  docker compose -f docker-compose.yml config -q
  echo "[docker-build-check] docker compose config -q: ok"
else
  # (Compose v1, `docker-compose`, predates the Compose Specification's top-level `name`: not used.)
  echo "[docker-build-check] SKIP docker compose config -q: the docker client here has no compose plugin (test/deployment.e2e-spec.ts parsed the file instead)"
fi

if command -v kubectl >/dev/null 2>&1; then
  kubectl kustomize deploy/k8s >/dev/null
  echo "[docker-build-check] kubectl kustomize deploy/k8s: ok"
else
  echo "[docker-build-check] SKIP kubectl kustomize: kubectl is not installed"
fi

exec node scripts/docker-build-check.mjs "$@"
