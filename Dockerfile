# triaged container image. The build stage runs the same setup and build scripts as CI
# (scripts/setup.sh, scripts/build.sh); the runtime stage carries only the binary, its runtime
# libraries, the default configuration and the hint catalog.
#   docker build -t triaged:0.1.0 .
#   docker run --rm -p 8080:8080 -p 9901:9901 triaged:0.1.0

FROM debian:12 AS build
WORKDIR /src
COPY . .
RUN bash scripts/setup.sh \
 && BUILD_DIR=build BUILD_TYPE=Release bash scripts/build.sh -DTRIAGED_BUILD_TESTS=OFF --target triaged \
 && build/triaged --check-config --config deploy/docker/triaged.toml

FROM debian:12-slim
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      libevent-core-2.1-7 libevent-extra-2.1-7 libevent-pthreads-2.1-7 \
      libspdlog1.10 libfmt9 libprometheus-cpp-core1.0 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin triaged
COPY --from=build /src/build/triaged /usr/local/bin/triaged
COPY deploy/docker/triaged.toml /etc/triaged/triaged.toml
# The hint catalog is compiled in; this copy is for reference and for log.hint_catalog edits.
COPY config/hints.toml /etc/triaged/hints.toml
USER 10001
EXPOSE 8080 9901
STOPSIGNAL SIGTERM
# /healthz over bash's /dev/tcp: no curl in the image.
HEALTHCHECK --interval=10s --timeout=3s --retries=3 CMD ["/bin/bash", "-c", \
  "exec 3<>/dev/tcp/127.0.0.1/9901 && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 && head -1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["/usr/local/bin/triaged"]
CMD ["--config", "/etc/triaged/triaged.toml"]
