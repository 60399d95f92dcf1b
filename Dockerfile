# pixmill container image: `docker build -t pixmill .` (docker-compose.yml uses it).
#
# Stage 1 builds the binary with the same tags as `make build`: nodynamic keeps
# gen2brain/webp on its embedded WebAssembly encoder instead of dlopen'ing a system
# libwebp, and jpegturbo decodes JPEGs with libjpeg-turbo (linked statically; scaled
# decode, docs/levers.md). cgo makes the binary depend on glibc only.
FROM golang:1.26 AS build
RUN apt-get update && apt-get install -y --no-install-recommends libjpeg62-turbo-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Modules first: this layer is cached until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=1 go build -trimpath -tags 'nodynamic jpegturbo' -ldflags='-s -w' -o /pixmill ./cmd/pixmill
# The data directory, made here because the runtime image has no shell to mkdir.
RUN mkdir -p /out/data

# Stage 2: distroless base (glibc, CA certificates and tzdata; no shell, no package
# manager), running as its built-in unprivileged user (uid/gid 65532).
FROM gcr.io/distroless/base-debian12:nonroot
COPY --from=build /pixmill /pixmill
COPY --from=build --chown=65532:65532 /out/data /var/lib/pixmill
# Built-in defaults apply (there is no configs/pixmill.yaml in the image): set
# everything with PIXMILL_* environment variables, or mount a file and set
# PIXMILL_CONFIG. The embedded default (SQLite + local files) writes under
# /var/lib/pixmill; mount a volume there to keep it.
WORKDIR /var/lib/pixmill
ENV PIXMILL_DATA_DIR=/var/lib/pixmill \
    PIXMILL_SERVER_ADDR=:8080
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/pixmill", "serve"]
