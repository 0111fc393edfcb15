# Multi-stage image (the deployment issue completes it). The build stage runs the same setup and
# build scripts as CI; the runtime stage carries only the binary and its runtime libraries.
FROM debian:12 AS build
WORKDIR /src
COPY . .
RUN bash scripts/setup.sh && BUILD_DIR=build BUILD_TYPE=Release bash scripts/build.sh -DTRIAGED_BUILD_TESTS=OFF

FROM debian:12-slim
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      libevent-2.1-7 libevent-core-2.1-7 libevent-extra-2.1-7 libevent-pthreads-2.1-7 \
      libspdlog1.10 libfmt9 libprometheus-cpp-core1.0 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home triaged
COPY --from=build /src/build/triaged /usr/local/bin/triaged
COPY config/triaged.example.toml /etc/triaged/triaged.toml
USER 10001
EXPOSE 8080 9901
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/triaged"]
CMD ["--config", "/etc/triaged/triaged.toml"]
