# orch's container image: the single executable (npm run build:binary) alone on a small
# Debian, run as a user of its own.
#   docker build -t orch .
#   docker run -p 7600:7600 -v orch-data:/var/lib/orch -v ./orch.yaml:/etc/orch/orch.yaml:ro orch
# Configuration: /etc/orch/orch.yaml when mounted (`${ENV}` in it is substituted, so tokens
# and keys can come from the environment), ORCH_LOG_LEVEL, and flags after the image name.

FROM node:20.20-bookworm AS build
WORKDIR /src
ENV npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false
# the manifests first: the npm ci layer is rebuilt only when dependencies change
COPY package.json package-lock.json ./
COPY apps/cli/package.json apps/cli/
COPY packages/core/package.json packages/core/
COPY packages/testing/package.json packages/testing/
COPY packages/plugins-allocator/package.json packages/plugins-allocator/
COPY packages/plugins-bench/package.json packages/plugins-bench/
COPY packages/plugins-scheduler/package.json packages/plugins-scheduler/
COPY packages/plugins-watchdog/package.json packages/plugins-watchdog/
COPY packages/plugins-watcher/package.json packages/plugins-watcher/
RUN npm ci
COPY . .
RUN npm run build:binary

FROM debian:bookworm-slim
# git for the bench plugin's repositories; ca-certificates for HTTPS peers (WebPageTest, Datadog …)
RUN apt-get update \
  && apt-get install -y --no-install-recommends ca-certificates git \
  && rm -rf /var/lib/apt/lists/* \
  && useradd --system --uid 10001 --user-group --home-dir /var/lib/orch --create-home orch \
  && mkdir -p /etc/orch
COPY --from=build /src/dist/orch /usr/local/bin/orch
# unpack the runtime into the image once, so a start unpacks nothing and the root file
# system may be read-only
ENV ORCH_CACHE_DIR=/opt/orch
RUN orch help > /dev/null && chmod -R a+rX /opt/orch
USER orch
# ./orch.yaml is read when present: a file mounted at /etc/orch/orch.yaml is the config
WORKDIR /etc/orch
ENV ORCH_DATA_DIR=/var/lib/orch
VOLUME ["/var/lib/orch"]
EXPOSE 7600
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["orch", "health", "--url", "http://127.0.0.1:7600"]
# SIGTERM drains (503 to new requests, work in flight finished) within core.shutdownGraceSeconds
STOPSIGNAL SIGTERM
ENTRYPOINT ["orch"]
# all interfaces inside the container; set core.auth.tokens before publishing the port
CMD ["run", "--http-host", "0.0.0.0", "--http-port", "7600"]
