# syntax=docker/dockerfile:1
# Tally's image: one binary for every role (serve, worker, migrate), chosen by the command.
# Build: everything installed, the server compiled (and the web pages built), dev tools dropped.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Install scripts run below, once the sources they build are copied in.
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY . .
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

# Runtime: the compiled build on plain Node, as the unprivileged `node` user.
FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    TALLY_DATA_DIR=/var/lib/tally
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/bin ./bin
COPY --from=build /app/dist ./dist
RUN mkdir -p /var/lib/tally && chown node:node /var/lib/tally
USER node
EXPOSE 3000
# Ready means the database answers and this release's migrations are applied (GET /readyz).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "bin/tally.mjs"]
CMD ["serve"]
