# santong mock platform (模拟平台) as a container image.
#
# Built by scripts/build-mock-image.sh; the build needs no network: the base image is made locally by
# scripts/container-engine.sh (debootstrap), and santong + every dependency come as wheels built on the host
# into the build context's wheels/ folder.
#
#   context/
#     wheels/santong-<version>-py3-none-any.whl
#     wheels/<every dependency>.whl
FROM localhost/localbase:bookworm

ARG SANTONG_VERSION=0.1.0

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_INDEX=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/santong/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# Bind-mount the wheels instead of COPY: they never become an image layer.
RUN --mount=type=bind,source=wheels,target=/wheels \
    python3 -m venv /opt/santong \
 && /opt/santong/bin/pip install --no-index --no-cache-dir --find-links /wheels "santong==${SANTONG_VERSION}" \
 && /opt/santong/bin/python -c "import santong, grpc" \
 && useradd --uid 10001 --home-dir /var/lib/santong --create-home santong

USER santong
WORKDIR /var/lib/santong

EXPOSE 50051 8080

# Python as PID 1 ignores SIGTERM unless it installs a handler, but always handles SIGINT (KeyboardInterrupt):
# `podman stop` / `docker stop` then ends the server at once instead of after the 10 s kill timeout.
STOPSIGNAL SIGINT

LABEL org.opencontainers.image.title="santong mock platform" \
      org.opencontainers.image.licenses="Apache-2.0"

# Inside the container the server must listen on every interface; without TLS that takes --insecure (it warns on
# stderr). Publish the ports on the host's loopback only (-p 127.0.0.1:50051:50051), or give TLS files.
ENTRYPOINT ["/opt/santong/bin/santong", "mock", "serve", "--grpc-port", "50051", "--http-port", "8080", "--host", "0.0.0.0", "--insecure"]
