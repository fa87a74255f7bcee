# syntax=docker/dockerfile:1
# One image recipe for both services: `--target auth` and `--target mailer`.
#   docker build --target auth -t temetro-auth .
#   docker build --target mailer -t temetro-mailer .

ARG NODE_IMAGE=node:22-bookworm-slim

# The workspaces' manifests: what both installs below start from.
FROM ${NODE_IMAGE} AS manifests
WORKDIR /app
COPY package.json package-lock.json ./
COPY shared/package.json shared/
COPY packages/auth-client/package.json packages/auth-client/
COPY packages/test-support/package.json packages/test-support/
COPY services/auth/package.json services/auth/
COPY services/mailer/package.json services/mailer/
COPY examples/clinic-notes/package.json examples/clinic-notes/
COPY examples/prescriptions-http/package.json examples/prescriptions-http/
COPY examples/web-app/package.json examples/web-app/

# Runtime dependencies only: no tap, no TypeScript compiler, no tsx or esbuild.
FROM manifests AS deps
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# Compiles what ships with the full toolchain; a type error fails the build.
FROM manifests AS build
RUN npm ci --no-audit --no-fund
COPY tsconfig.base.json ./
COPY shared shared
COPY packages packages
COPY services services
# Only what ships (tests and benchmarks are not in the build context): src -> dist per workspace.
RUN npx tsc -b services/auth services/mailer

# Compiled JavaScript and production node_modules only; the workspaces' package.json files carry
# the exports that send `@temetro/shared` and `@temetro/auth-client` to their dist.
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules node_modules
COPY package.json ./
COPY shared/package.json shared/
COPY --from=build /app/shared/dist shared/dist
COPY packages/auth-client/package.json packages/auth-client/
COPY --from=build /app/packages/auth-client/dist packages/auth-client/dist
COPY services/auth/package.json services/auth/
COPY --from=build /app/services/auth/dist services/auth/dist
COPY services/mailer/package.json services/mailer/
COPY --from=build /app/services/mailer/dist services/mailer/dist
# The image's own unprivileged user (uid 1000), matching the Kubernetes securityContext.
USER node

FROM runtime AS auth
EXPOSE 4000 4001
# node runs as PID 1 and receives SIGTERM itself (no npm or shell in between); the service handles it.
CMD ["node", "services/auth/dist/server.js"]

FROM runtime AS mailer
EXPOSE 4002
CMD ["node", "services/mailer/dist/main.js"]
