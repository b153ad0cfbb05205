# syntax=docker/dockerfile:1
# The shop's image: one image for every role (ROLE picks it) and for the one-shot migration.
# docs/deploy.md explains how to build and run it.
#
# Debian (glibc) in both stages, not Alpine: node_modules is installed in the build stage and copied
# as it is, so esbuild's platform binary (tsx runs the TypeScript through it) must match the runtime's libc.
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
# Dependencies first, so that this layer is rebuilt only when the lockfile changes.
COPY package.json package-lock.json ./
# --ignore-scripts: the one install script that matters is our own postinstall (the Prisma clients),
# run explicitly below once prisma/ and src/ are here. The others are not needed: esbuild ships its
# binary as an optional dependency, and Prisma's engine download is not used, because the clients run
# Prisma's query compiler (WebAssembly) through driver adapters and migrations are plain SQL files.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY prisma ./prisma
COPY src ./src
# Generates src/generated/{write,read} (src/cli/generate-clients.ts hands the Prisma CLI a stub schema
# engine, so no engine is downloaded), then drops the dev dependencies from what the runtime copies.
RUN npm run db:generate && npm prune --omit=dev --ignore-scripts --no-audit --no-fund

FROM ${NODE_IMAGE} AS runtime
# HOST: listen on every interface of the container (the default, 127.0.0.1, is unreachable from outside).
# DATA_DIR: embedded mode's PGlite database, and the secret key file when SECRET_KEY is unset.
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=4000 \
    DATA_DIR=/data
WORKDIR /app
# Owned by root and read-only for the app's user: the running process cannot rewrite its own code.
# tsx compiles at run time and caches in the OS temp directory (/tmp), which stays writable.
COPY --from=build /app/package.json /app/tsconfig.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/prisma ./prisma
COPY --from=build /app/src ./src
COPY deploy/probe.mjs ./deploy/probe.mjs
# Writable for embedded mode; mount a volume here to keep its database (docs/deploy.md).
RUN mkdir -p /data && chown node:node /data
# `node`, the unprivileged user the Node.js images ship (uid 1000).
USER node
EXPOSE 4000
# Liveness only: a process that answers at all. Readiness (/readyz) is the orchestrator's business
# (docker-compose.yml checks it per role). The slim image has no curl or wget, hence node.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 CMD ["node", "deploy/probe.mjs", "/healthz"]
# node itself, in exec form, not `npm start` or a shell: SIGTERM goes straight to the process that
# handles it (src/main.ts) and shuts down cleanly. `--import tsx` runs the TypeScript sources as
# `npm start` does, without tsx's wrapper process in between.
CMD ["node", "--import", "tsx", "src/main.ts"]
