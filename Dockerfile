# syntax=docker/dockerfile:1
#
# Four stages: deps (all dependencies), build (compiles src/ to dist/), prod-deps (production
# dependencies only) and runtime: Debian slim with the Node binary of the node image, the production
# node_modules and dist/. No npm, no C headers in the runtime: they are most of the node image's
# weight (docs/deployment.md). `npm run test:image` builds this file with podman and runs the result
# as deploy/k8s runs it.
#
# Node 24.21.0 is the newest Node 24 (LTS) release at the time of writing; the exact tag is pinned so
# a rebuild gets the same runtime. The runtime's Debian is the release that node image is built on
# (trixie): change the two together.

FROM node:24.21.0-trixie-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund

FROM deps AS build
COPY tsconfig.json nest-cli.json ./
COPY src ./src
RUN npm run build

FROM node:24.21.0-trixie-slim AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
# Optional packages are left out with the dev ones: npm keeps a dev dependency that a production
# package names as an optional peer (typescript for @nestjs/swagger, ts-node for typeorm; lockfile
# "devOptional") unless both are omitted. The optional packages are not used in production: the
# embedded database (@electric-sql/pglite*, loaded only without DATABASE_URL, which production
# refuses), msgpackr's native unpacker (BullMQ only packs), pg's Cloudflare sockets.
# No install scripts: the only production one is telemetry (@scarf/scarf).
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund \
  # Type declarations and source maps are never loaded at run time (Node runs without
  # --enable-source-maps here): ~30 MB of the packages, a third of it OpenTelemetry's.
  && find node_modules -type f \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' \) -delete

FROM debian:trixie-slim AS runtime
# V8 sizes its old generation from the host's memory, not the container's limit, and lets it grow
# lazily up to that size: under load RSS climbed to ~310 MB with no cap and stayed under 200 MB with
# one (docs/benchmarks.md). Keep the cap at about 2/3 of the memory limit (deploy/k8s: 1536Mi); the
# rest holds the young generation, code and the transcript bodies being downloaded. A lower cap
# collects more often (p99 up); a capped heap also gets a smaller young generation by default, so
# 16 MB semi-spaces (the uncapped default) are set back. The bench runs the service with this same
# NODE_OPTIONS.
ENV NODE_ENV=production PORT=3000 NODE_OPTIONS="--max-old-space-size=1024 --max-semi-space-size=16"
# The node image's user: node, uid and gid 1000 (deploy/k8s runs the pods as 1000:1000).
RUN groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node
COPY --from=prod-deps /usr/local/bin/node /usr/local/bin/node
WORKDIR /app
COPY --from=prod-deps /app/package.json /app/package-lock.json ./
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The image's own unprivileged user; nothing under /app is writable by it.
USER node
EXPOSE 3000
# No curl in the slim image: Node's fetch probes the liveness route (on MANAGEMENT_PORT when set).
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.MANAGEMENT_PORT || process.env.PORT || 3000) + '/health/live').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Exec form: node is PID 1 and receives SIGTERM itself (graceful shutdown, SHUTDOWN_TIMEOUT_MS).
CMD ["node", "dist/main.js"]
