# flux-status sidecar image: a deno compile binary on distroless, non-root, read-only root FS.
# scripts/compile.ts --image bakes in the image's permissions (IMAGE_PERMISSIONS there: reads only
# of the store volume (/data), mounted Secrets (/var/run/secrets) and /tmp, writes only of /data
# and /tmp) and embeds only the npm packages that run (`flux-status permissions` prints the set).
# Build: docker buildx build --platform linux/amd64,linux/arm64 -t flux-status .
FROM --platform=$BUILDPLATFORM node:22-bookworm-slim AS build
ARG TARGETARCH
ARG GIT_COMMIT=unknown
WORKDIR /src
RUN npm install -g deno@2.9.6
COPY deno.json deno.lock ./
COPY cli.ts daemon.ts mod.ts ./
COPY src/ src/
COPY scripts/ scripts/
RUN sed -i "s/\"unknown\"/\"${GIT_COMMIT}\"/" src/runtime/build_info.ts \
 && case "$TARGETARCH" in \
      amd64) triple=x86_64-unknown-linux-gnu ;; \
      arm64) triple=aarch64-unknown-linux-gnu ;; \
      *) echo "unsupported arch $TARGETARCH" >&2; exit 1 ;; \
    esac \
 && deno run --allow-run --allow-read --allow-write --allow-env scripts/compile.ts \
      --image "$triple" /out/flux-status

# glibc + libgcc, no shell, uid 65532 ("nonroot")
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/flux-status /usr/local/bin/flux-status
# The KV store lives on a writable volume (an emptyDir); the root filesystem can stay read-only.
# DENO_DIR points any runtime cache at /tmp, also an emptyDir in the examples.
ENV FLUX_STATUS_STORE=/data/flux-status.kv \
    FLUX_STATUS_LISTEN=127.0.0.1:3000 \
    FLUX_STATUS_LOG_FORMAT=json \
    DENO_DIR=/tmp/deno
USER 65532:65532
VOLUME ["/data"]
EXPOSE 3000
ENTRYPOINT ["/usr/local/bin/flux-status"]
CMD ["daemon"]
