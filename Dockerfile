# syntax=docker/dockerfile:1
# Multi-stage build: compile with the project's own install script on Debian 12, run on
# debian:bookworm-slim with only the runtime libraries, as a non-root user.

FROM debian:bookworm AS build
# FAISS rebuilt for AVX2 when the build host's CPU has it (auto); pass --build-arg
# QUARRY_FAISS=debian for an image that must also run on CPUs without AVX2.
ARG QUARRY_FAISS=auto
WORKDIR /src
COPY deploy/install-deps.sh deploy/install-faiss-avx2.sh deploy/
RUN deploy/install-deps.sh && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DQUARRY_BUILD_TESTS=OFF \
      -DQUARRY_BUILD_BENCHMARKS=OFF -DQUARRY_FAISS=$(echo "$QUARRY_FAISS" | tr a-z A-Z) \
 && cmake --build /build --parallel --target quarry-server quarry-indexer quarry \
 && install -D -m 0755 /build/server/quarry-server /out/bin/quarry-server \
 && install -D -m 0755 /build/index/quarry-indexer /out/bin/quarry-indexer \
 && install -D -m 0755 /build/client/quarry /out/bin/quarry

FROM debian:bookworm-slim AS runtime
COPY deploy/install-deps.sh /tmp/install-deps.sh
RUN /tmp/install-deps.sh --runtime-only && rm -rf /var/lib/apt/lists/* /tmp/install-deps.sh \
 && useradd --system --uid 10001 --home-dir /var/lib/quarry --create-home quarry
COPY --from=build /out/bin/ /usr/local/bin/
USER quarry
ENV QUARRY_ADDRESS=0.0.0.0:50051 \
    QUARRY_DATA_DIR=/var/lib/quarry/data
VOLUME ["/var/lib/quarry/data"]
EXPOSE 50051
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["quarry", "health", "--address", "127.0.0.1:50051"]
ENTRYPOINT ["quarry-server"]
