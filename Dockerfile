# One image recipe for every ebs binary:
#   docker build --build-arg SERVICE=batcher -t ebs-batcher .
# SERVICE is one of: bridge filter batcher koji-worker repo-watcher
# bodhi-publisher status ebsctl ebs kojisim bodhisim.
ARG GO_VERSION=1.26.8

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOTOOLCHAIN=local
# Module downloads first, for layer caching: only the workspace and module
# files, so the download layer is rebuilt only when a dependency changes.
# Every module go.work uses is listed (deploy/check tests that); a failed
# download fails the build.
COPY go.work go.work.sum ./
COPY proto/go.mod proto/go.sum proto/
COPY libs/go.mod libs/go.sum libs/
COPY services/batcher/go.mod services/batcher/go.sum services/batcher/
COPY services/bodhi-publisher/go.mod services/bodhi-publisher/go.sum services/bodhi-publisher/
COPY services/bridge/go.mod services/bridge/go.sum services/bridge/
COPY services/ebs/go.mod services/ebs/go.sum services/ebs/
COPY services/ebsctl/go.mod services/ebsctl/go.sum services/ebsctl/
COPY services/filter/go.mod services/filter/go.sum services/filter/
COPY services/koji-worker/go.mod services/koji-worker/go.sum services/koji-worker/
COPY services/repo-watcher/go.mod services/repo-watcher/go.sum services/repo-watcher/
COPY services/status/go.mod services/status/go.sum services/status/
RUN go mod download
COPY . .
# SERVICE only from here: an ARG is in the environment of every later RUN,
# so declared earlier it would give each service its own download layer.
ARG SERVICE
RUN set -eu; \
    case "${SERVICE:?set --build-arg SERVICE}" in \
      kojisim)  pkg=./libs/sim/kojihub/cmd/kojisim ;; \
      bodhisim) pkg=./libs/sim/bodhi/cmd/bodhisim ;; \
      *)        pkg=./services/${SERVICE} ;; \
    esac; \
    go build -trimpath -ldflags='-s -w' -o /out/app "$pkg"

# distroless static: no shell, no package manager, runs as uid 65532.
FROM gcr.io/distroless/static-debian12:nonroot
ARG SERVICE
LABEL org.opencontainers.image.title="ebs-${SERVICE}" \
      org.opencontainers.image.source="https://github.com/fedora-eln/ebs" \
      org.opencontainers.image.description="ebs (ELN Build Sync) ${SERVICE}"
COPY --from=build /out/app /usr/local/bin/app
USER nonroot:nonroot
EXPOSE 9100
ENTRYPOINT ["/usr/local/bin/app"]
