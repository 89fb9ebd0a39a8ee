# syntax=docker/dockerfile:1
# Multi-stage build: compile with the project's own scripts on Debian 12 (the same ones
# tests/deploy/check_image_build.sh runs on a plain machine), run on debian:bookworm-slim with
# only the runtime libraries, as a non-root user.

FROM debian:bookworm AS build
# FAISS rebuilt for AVX2 when the build host's CPU has it (auto); pass --build-arg
# QUARRY_FAISS=debian for an image that must also run on CPUs without AVX2.
ARG QUARRY_FAISS=auto
WORKDIR /src
COPY deploy/install-deps.sh deploy/install-faiss-avx2.sh deploy/
RUN deploy/install-deps.sh --build-only && rm -rf /var/lib/apt/lists/*
COPY . .
RUN deploy/build-release.sh /out /build

FROM debian:bookworm-slim AS runtime
COPY deploy/install-deps.sh /tmp/install-deps.sh
RUN /tmp/install-deps.sh --runtime-only && rm -rf /var/lib/apt/lists/* /tmp/install-deps.sh \
 && useradd --system --uid 10001 --home-dir /var/lib/quarry --create-home quarry \
 && install -d -o quarry -g quarry /var/lib/quarry/data
COPY --from=build /out/bin/ /usr/local/bin/
USER quarry
# Metrics: quarry-server serves /metrics on 9464, `quarry-indexer watch` on 9465.
ENV QUARRY_ADDRESS=0.0.0.0:50051 \
    QUARRY_DATA_DIR=/var/lib/quarry/data
VOLUME ["/var/lib/quarry/data"]
EXPOSE 50051 9464 9465
# The gRPC health service, asked by the project's own client (`quarry health`: exit 0 when
# SERVING). The indexer overrides this (compose/k8s) since it serves no gRPC.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["quarry", "health", "--address", "127.0.0.1:50051"]
ENTRYPOINT ["quarry-server"]
