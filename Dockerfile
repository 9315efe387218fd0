# syntax=docker/dockerfile:1
#
# Three stages: deps (all dependencies), build (compiles src/ to dist/), runtime (production
# dependencies + dist/ only). scripts/docker-build-check.mjs replays this file's RUN/COPY/ENV/CMD
# lines on a host without a Docker engine (.ci/run does), so keep to those instructions; flags of
# RUN --mount are dropped by that replay, and each stage starts from one of the images below or an
# earlier stage.
#
# Node 24.21.0 is the newest Node 24 (LTS) release at the time of writing; the exact tag is pinned so
# a rebuild gets the same runtime. Bump it on purpose (the check runs the same version through npx).

FROM node:24.21.0-trixie-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund

FROM deps AS build
COPY tsconfig.json nest-cli.json ./
COPY src ./src
RUN npm run build

FROM node:24.21.0-trixie-slim AS runtime
# V8 sizes its old generation from the host's memory, not the container's limit, and lets it grow
# lazily up to that size: under load RSS climbed to ~310 MB with no cap and stayed under 200 MB with
# one (README, Performance). Keep the cap at about 2/3 of the memory limit (deploy/k8s: 1536Mi); the
# rest holds the young generation, code and the transcript bodies being downloaded. A lower cap
# collects more often (p99 up); a capped heap also gets a smaller young generation by default, so
# 16 MB semi-spaces (the uncapped default) are set back. The bench runs the service with this same
# NODE_OPTIONS.
ENV NODE_ENV=production PORT=3000 NODE_OPTIONS="--max-old-space-size=1024 --max-semi-space-size=16"
WORKDIR /app
COPY package.json package-lock.json ./
# No install scripts: the only production ones are telemetry (@scarf/scarf) and msgpackr-extract's
# optional native build, which falls back to its prebuilt package.
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --ignore-scripts --no-audit --no-fund
COPY --from=build /app/dist ./dist
# The image's own unprivileged user (uid 1000); nothing under /app is writable by it.
USER node
EXPOSE 3000
# No curl in the slim image: Node's fetch probes the liveness route.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health/live').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Exec form: node is PID 1 and receives SIGTERM itself (graceful shutdown, SHUTDOWN_TIMEOUT_MS).
CMD ["node", "dist/main.js"]
