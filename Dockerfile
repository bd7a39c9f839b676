# syntax=docker/dockerfile:1

# --- build: compile TypeScript (src and migrations) into dist/ ---
FROM node:24-bookworm-slim AS build
WORKDIR /app
# argon2 is compiled from source: its prebuilt Linux binary crashes on some hosts.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
# The image's npm may not honour allowScripts, so scripts stay off and argon2 alone is built.
RUN npm ci --ignore-scripts && npm rebuild argon2
COPY tsconfig*.json ./
COPY scripts ./scripts
COPY migrations ./migrations
COPY src ./src
COPY views ./views
COPY static ./static
RUN node scripts/build-if-stale.js

# --- runtime: production dependencies and compiled output only ---
FROM node:24-bookworm-slim AS runtime
WORKDIR /app
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000 DATA_DIR=/app/data
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
# dist/ holds the service and the compiled migrations (dist/migrations).
COPY --from=build /app/dist ./dist
COPY --from=build /app/node_modules/argon2/build ./node_modules/argon2/build
COPY --from=build /app/views ./views
COPY --from=build /app/static ./static
RUN mkdir -p /app/data && chown node:node /app/data
USER node
EXPOSE 3000
# The slim image has no curl; Node's built-in fetch does the probe.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/src/main.js"]
