# syntax=docker/dockerfile:1
# One image recipe for both services: `--target auth` and `--target mailer`.
#   docker build --target auth -t temetro-auth .
#   docker build --target mailer -t temetro-mailer .

ARG NODE_IMAGE=node:22-bookworm-slim

# Runtime dependencies only (no tap, no TypeScript compiler): tsx runs the TypeScript sources.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY shared/package.json shared/
COPY packages/auth-client/package.json packages/auth-client/
COPY services/auth/package.json services/auth/
COPY services/mailer/package.json services/mailer/
COPY examples/clinic-notes/package.json examples/clinic-notes/
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# Type-check with the full toolchain; the stage fails the build on a type error.
FROM ${NODE_IMAGE} AS check
WORKDIR /app
COPY package.json package-lock.json ./
COPY shared/package.json shared/
COPY packages/auth-client/package.json packages/auth-client/
COPY services/auth/package.json services/auth/
COPY services/mailer/package.json services/mailer/
COPY examples/clinic-notes/package.json examples/clinic-notes/
RUN npm ci --no-audit --no-fund
COPY tsconfig.base.json ./
COPY shared shared
COPY packages packages
COPY services services
# Only what ships (tests and benchmarks are not in the build context).
RUN npx tsc -b services/auth services/mailer && touch /app/.checked

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules node_modules
COPY --from=check /app/.checked ./
COPY package.json tsconfig.base.json ./
COPY shared/package.json shared/
COPY shared/src shared/src
COPY packages/auth-client/package.json packages/auth-client/
COPY packages/auth-client/src packages/auth-client/src
COPY services/auth/package.json services/auth/
COPY services/auth/src services/auth/src
COPY services/mailer/package.json services/mailer/
COPY services/mailer/src services/mailer/src
# The image's own unprivileged user (uid 1000), matching the Kubernetes securityContext.
USER node

FROM runtime AS auth
EXPOSE 4000 4001
# node runs as PID 1 and receives SIGTERM itself (no npm or shell in between); the service handles it.
CMD ["node", "--import", "tsx", "services/auth/src/server.ts"]

FROM runtime AS mailer
EXPOSE 4002
CMD ["node", "--import", "tsx", "services/mailer/src/main.ts"]
