# Eddy in a container: `docker build -t eddy .` then
#   docker run -p 8000:8000 -v eddy-data:/data eddy
# The server listens on 0.0.0.0:8000 inside the container (a container's loopback is
# unreachable from the host), and so verifies AWS signatures by default, as on any
# address but loopback: the first start prints an administrator's key (kept in the
# volume), or choose it with -e EDDY_ROOT_ACCESS_KEY_ID=… -e EDDY_ROOT_SECRET_ACCESS_KEY=….
# For a local, DynamoDB Local-like container that takes any credentials, publish the port
# on the host's loopback only and turn verification off:
#   docker run -p 127.0.0.1:8000:8000 -v eddy-data:/data eddy \
#       serve --listen 0.0.0.0:8000 --data-dir /data --auth off

# The build stage: the toolchain rust-toolchain.toml pins (rustup in the image installs it
# if the image's differs). Dependencies are fetched with the lock file as it is (--locked).
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin eddy \
    && cp target/release/eddy /usr/local/bin/eddy

# The run stage: the binary alone on a slim Debian (glibc, which the build stage links
# against), run as an unprivileged user that owns the data directory.
FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin eddy \
    && mkdir -p /data && chown eddy:eddy /data
COPY --from=build /usr/local/bin/eddy /usr/local/bin/eddy
USER eddy
# A new named volume starts as a copy of this directory, owned by `eddy`.
VOLUME /data
EXPOSE 8000
# So that `docker exec <container> eddy function list` reaches the server inside.
ENV EDDY_ENDPOINT=http://127.0.0.1:8000
# Eddy shuts down cleanly on SIGTERM (docker stop) and SIGINT (Ctrl-C of docker run -it).
ENTRYPOINT ["eddy"]
CMD ["serve", "--listen", "0.0.0.0:8000", "--data-dir", "/data"]
