# triaged container image: a Release build in a Debian 12 stage that runs the same setup and build
# scripts as CI, then a runtime image with nothing but what the binary needs: triaged, the
# shared libraries ldd says it loads (and the dynamic loader), CA certificates, a passwd/group
# entry for its user (uid 10001), its default configuration and the hint catalog (compiled into
# the binary; the file is there to read and to edit into log.hint_catalog). No shell, no package
# manager: the health check is `triaged health`.
#
#   docker build -t triaged:0.1.0 .
#   podman build --format docker -t triaged:0.1.0 .      (--format docker keeps the HEALTHCHECK)
#
# DEBIAN_IMAGE names the build stage's base (debian:12, which tests/container/check_container.sh
# makes with debootstrap and podman import, no registry being reachable); VERSION must be CMakeLists.txt's project version
# (the container test checks it against `triaged --version`); SOURCE and REVISION fill the OCI
# labels, e.g. --build-arg SOURCE=<repository URL> --build-arg REVISION=$(git rev-parse HEAD).

ARG DEBIAN_IMAGE=debian:12

FROM ${DEBIAN_IMAGE} AS build
SHELL ["/bin/bash", "-euo", "pipefail", "-c"]
WORKDIR /src
COPY . .
RUN bash scripts/setup.sh --build-only \
 && BUILD_DIR=build BUILD_TYPE=Release bash scripts/build.sh -DTRIAGED_BUILD_TESTS=OFF --target triaged \
 && build/triaged --check-config --config deploy/docker/triaged.toml
# The runtime root file system, assembled here and copied whole into the empty image below.
RUN root=/rootfs \
 && bash scripts/bundle_binary.sh build/triaged "$root" /usr/local/bin/triaged \
 && install -D -m 0644 /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt" \
 && install -D -m 0644 deploy/docker/triaged.toml "$root/etc/triaged/triaged.toml" \
 && install -D -m 0644 config/hints.toml "$root/etc/triaged/hints.toml" \
 && printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' \
      'triaged:x:10001:10001:triaged:/nonexistent:/sbin/nologin' >"$root/etc/passwd" \
 && printf '%s\n' 'root:x:0:' 'triaged:x:10001:' >"$root/etc/group" \
 && printf '%s\n' 'passwd: files' 'group: files' 'hosts: files dns' >"$root/etc/nsswitch.conf" \
 && chroot "$root" /usr/local/bin/triaged --check-config --config /etc/triaged/triaged.toml

FROM scratch
ARG VERSION=0.1.0
ARG SOURCE=unknown
ARG REVISION=unknown
LABEL org.opencontainers.image.title="triaged" \
      org.opencontainers.image.description="HTTP/1.1 reverse proxy that tells an operator why a request failed" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.revision="${REVISION}"
COPY --from=build /rootfs/ /
USER 10001:10001
# Data plane and admin listener of the shipped configuration, as in deploy/kubernetes.
EXPOSE 8080 9901
# SIGTERM drains: /readyz turns 503, the listener closes, in-flight requests finish within
# server.drain_timeout (20 s in the shipped configuration), exit 0.
STOPSIGNAL SIGTERM
# The admin address comes from the configuration, so a file mounted over the shipped one keeps the
# check right (Docker's --health-cmd would need a shell to change it).
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["/usr/local/bin/triaged", "health", "--config", "/etc/triaged/triaged.toml"]
ENTRYPOINT ["/usr/local/bin/triaged"]
CMD ["--config", "/etc/triaged/triaged.toml"]
