# syntax=docker/dockerfile:1
# The `leasehold` image: the CLI and daemon on Node 24 (slim), production dependencies only,
# running as a non-root user. Build from the repository root:
#   docker build -t leasehold:0.1.0 .
# The example app's migrations are baked in at /migrations. For your app, build a migrations
# image on top of it (FROM leasehold:0.1.0, then COPY your migrations folder to /migrations),
# tagged like the app release it belongs to.
#
# The image runs the production build: the CLI and the library bundled into one ES module
# (`packages/cli/dist/leasehold.mjs`, split so that a pod on a current schema never loads the
# Kubernetes client or the SQL parser), beside the few packages the bundle loads from
# node_modules at run time (the CLI package's only dependencies).

ARG NODE_VERSION=24.21.0
ARG PNPM_VERSION=10.34.9

# The bundle, built from the whole workspace (development dependencies included: esbuild).
FROM node:${NODE_VERSION}-slim AS build
ARG PNPM_VERSION
RUN npm install --global pnpm@${PNPM_VERSION}
WORKDIR /src
COPY . .
RUN --mount=type=cache,id=pnpm-store,target=/pnpm-store \
    pnpm install --store-dir /pnpm-store --frozen-lockfile --ignore-scripts --filter "@leasehold/cli..." \
 && pnpm --filter @leasehold/cli run build

# What the bundle loads at run time: the CLI package's production dependencies only, from the
# lockfile as it is, without install scripts.
FROM node:${NODE_VERSION}-slim AS deps
ARG PNPM_VERSION
RUN npm install --global pnpm@${PNPM_VERSION}
WORKDIR /src
COPY . .
RUN --mount=type=cache,id=pnpm-store,target=/pnpm-store \
    pnpm install --store-dir /pnpm-store --frozen-lockfile --prod --ignore-scripts --filter "@leasehold/cli"

FROM node:${NODE_VERSION}-slim AS runtime
ENV NODE_ENV=production \
    LEASEHOLD_MIGRATIONS=/migrations
WORKDIR /app
COPY --from=deps /src/node_modules ./node_modules
COPY --from=deps /src/packages/cli/node_modules ./packages/cli/node_modules
COPY --from=build /src/packages/cli/package.json ./packages/cli/package.json
COPY --from=build /src/packages/cli/dist ./packages/cli/dist
COPY migrations /migrations
# `leasehold` on the PATH, for the entrypoint and for `kubectl exec <pod> -- leasehold status`.
# exec: node becomes PID 1 and receives SIGTERM itself (the CLI handles it: a leader releases
# the Lease and aborts the migration in flight).
RUN printf '#!/bin/sh\nexec node /app/packages/cli/dist/leasehold.mjs "$@"\n' > /usr/local/bin/leasehold \
 && chmod 0755 /usr/local/bin/leasehold
# Numeric, so Kubernetes can check runAsNonRoot; the manifests run as the same 1000:1000 (the
# `node` user of the base image).
USER 1000:1000
ENTRYPOINT ["leasehold"]
CMD ["--help"]
