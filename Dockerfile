# syntax=docker/dockerfile:1
# edgeops: build with dev dependencies, run on a slim Node 20 image with production dependencies only.

FROM node:20-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 compiles from source when no prebuilt binary matches the platform.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
# Sources are not here yet, so the `prepare` build is skipped; native modules are built explicitly.
RUN npm ci --ignore-scripts && npm rebuild better-sqlite3
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    EDGEOPS_DB=/data/edgeops.db \
    EDGEOPS_POLICIES=/app/policies \
    EDGEOPS_COMMANDS=/app/commands \
    EDGEOPS_STEP_USER=edgeops-step
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY migrations ./migrations
# The shipped examples; mount your own repositories over these two folders.
COPY policies ./policies
COPY commands ./commands
# Steps run as edgeops-step: it may read the commands, never /data nor the bot's environment.
# The bot stays root so it can start steps as that user; `docker run --cap-drop ALL --cap-add
# SETUID --cap-add SETGID --cap-add KILL` leaves it only that (see the README).
RUN useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin edgeops-step \
 && chmod -R a+rX /app/commands /app/policies \
 && mkdir -p /data && chown root:root /data && chmod 0700 /data
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT || 3000}/healthz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/src/cli.js", "serve"]
