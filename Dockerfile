# kefu in a container: one binary, one data volume, no other service.
#
#   docker build -t kefu .
#   docker run -d -p 8080:8080 -v kefu-data:/data --name kefu kefu
#   docker logs kefu    # prints the one-time setup link on first start

FROM rust:1.95-bookworm AS build
WORKDIR /src
# Dependencies first, so code changes do not rebuild them.
COPY Cargo.toml Cargo.lock ./
RUN mkdir src && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && cargo build --release --locked \
    && rm -rf src
COPY . .
RUN touch src/main.rs src/lib.rs && cargo build --release --locked

FROM debian:bookworm-slim
RUN groupadd --system --gid 10001 kefu \
    && useradd --system --uid 10001 --gid kefu --home-dir /data --shell /usr/sbin/nologin kefu \
    && mkdir -p /data && chown kefu:kefu /data
COPY --from=build /src/target/release/kefu /usr/local/bin/kefu
USER kefu:kefu
WORKDIR /data
# A fixed mmap threshold makes glibc give the big tensors of a fine-tuning run back to the
# system when it ends (measured: 235 MB resident after the first start's fine-tuning, 583 MB
# without); glibc only reads it from the environment.
ENV KEFU_DATA_DIR=/data \
    KEFU_BIND=0.0.0.0:8080 \
    MALLOC_MMAP_THRESHOLD_=131072
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["kefu", "healthcheck"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["kefu"]
CMD ["serve"]
