#!/usr/bin/env bash
# 容器引擎 / container engine for the containerized mock platform (see docs/containers.md).
#
# Provides, idempotently, on Debian bookworm as root:
#   - rootful podman + runc from Debian's archive (installed with apt-get only when `podman` is missing);
#   - its own containers.conf / storage.conf in a work folder outside the repository
#     (${SANTONG_CONTAINER_HOME:-/var/tmp/santong-containers});
#   - the base image localhost/localbase:bookworm, built with debootstrap from the machine's own apt mirror
#     (no registry needed) and cached as a `podman save | gzip` tarball in the work folder;
#   - a Docker-compatible API socket (`podman system service`) for testcontainers.
#
# Usage:
#   source scripts/container-engine.sh        # set up, then export DOCKER_HOST & co. into this shell
#   bash scripts/container-engine.sh [up]     # set up only (prints the variables to export)
#   bash scripts/container-engine.sh env      # print `export …` lines (for eval) without setting up
#   bash scripts/container-engine.sh status   # one line: does the socket answer?
#   bash scripts/container-engine.sh stop     # stop the API service started by `up` (by its PID file)
#
# When sourced, the work runs in a child bash (so `set -e` / `exit` there never kill the caller) and only
# the exports happen in the caller; failure is one line on stderr and a non-zero `return`.

# ---------------------------------------------------------------------------------------------- sourced
if [[ "${BASH_SOURCE[0]:-$0}" != "$0" ]]; then
  _sce_home="${SANTONG_CONTAINER_HOME:-/var/tmp/santong-containers}"
  if _SCE_SOURCED=1 bash "${BASH_SOURCE[0]}" up; then
    export CONTAINERS_CONF="${_sce_home}/containers.conf"
    export CONTAINERS_STORAGE_CONF="${_sce_home}/storage.conf"
    export DOCKER_HOST="unix://${_sce_home}/podman.sock"
    export TESTCONTAINERS_RYUK_DISABLED=true
    export TESTCONTAINERS_CONNECTION_MODE=docker_host
    unset _sce_home
    return 0
  fi
  unset _sce_home
  return 1
fi

# ---------------------------------------------------------------------------------------------- child
set -euo pipefail

HOME_DIR="${SANTONG_CONTAINER_HOME:-/var/tmp/santong-containers}"
BASE_IMAGE="localhost/localbase:bookworm"
BASE_TARBALL="${HOME_DIR}/localbase-bookworm.tar.gz"
SOCK="${HOME_DIR}/podman.sock"
PID_FILE="${HOME_DIR}/podman-service.pid"
LOG_DIR="${HOME_DIR}/logs"
SUITE="bookworm"

say() { printf '%s\n' "$*" >&2; }          # progress, to stderr
fail() { say "容器引擎不可用 / container engine unavailable: $*"; exit 1; }

export CONTAINERS_CONF="${HOME_DIR}/containers.conf"
export CONTAINERS_STORAGE_CONF="${HOME_DIR}/storage.conf"

print_env() {
  printf 'export %s=%q\n' \
    CONTAINERS_CONF "$CONTAINERS_CONF" \
    CONTAINERS_STORAGE_CONF "$CONTAINERS_STORAGE_CONF" \
    DOCKER_HOST "unix://${SOCK}" \
    TESTCONTAINERS_RYUK_DISABLED true \
    TESTCONTAINERS_CONNECTION_MODE docker_host
}

socket_answers() {
  [[ -S "$SOCK" ]] || return 1
  [[ "$(curl -s --max-time 2 --unix-socket "$SOCK" http://d/_ping 2>/dev/null)" == "OK" ]]
}

service_pid() {  # the PID in the PID file, if it is still our podman service
  local pid
  pid="$(cat "$PID_FILE" 2>/dev/null)" || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  tr '\0' ' ' <"/proc/${pid}/cmdline" 2>/dev/null | grep -q "podman system service" || return 1
  printf '%s\n' "$pid"
}

cmd_stop() {
  local pid
  if pid="$(service_pid)"; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
    say "容器引擎服务已停止 / container engine service stopped (pid ${pid})"
  else
    say "容器引擎服务未运行 / container engine service not running"
  fi
  rm -f "$PID_FILE" "$SOCK"
}

# Write $2 to $1 only if it differs (a running service keeps reading the same file).
write_if_changed() {
  if [[ ! -f "$1" ]] || [[ "$(cat "$1")" != "$2" ]]; then
    printf '%s\n' "$2" >"$1.tmp" && mv -f "$1.tmp" "$1"
  fi
}

ensure_packages() {
  local pkgs=()
  command -v podman >/dev/null || pkgs+=(podman)
  command -v runc >/dev/null || pkgs+=(runc)
  command -v debootstrap >/dev/null || pkgs+=(debootstrap)
  command -v curl >/dev/null || pkgs+=(curl)
  ((${#pkgs[@]})) || return 0
  command -v apt-get >/dev/null || fail "podman missing and no apt-get (need Debian/Ubuntu)"
  say "… 安装 / installing ${pkgs[*]} (≈ 25 s; log ${LOG_DIR}/apt.log)"
  if ! { DEBIAN_FRONTEND=noninteractive apt-get update \
         && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${pkgs[@]}"; } \
       >"${LOG_DIR}/apt.log" 2>&1; then
    fail "apt-get install ${pkgs[*]} failed: $(tail -n 1 "${LOG_DIR}/apt.log") (log ${LOG_DIR}/apt.log)"
  fi
}

write_configs() {
  local hn hu nofile nproc
  hn="$(ulimit -Hn)"; hu="$(ulimit -Hu)"
  [[ "$hn" == unlimited ]] && hn=1048576
  [[ "$hu" == unlimited ]] && hu=32768
  nofile=$((hn < 1048576 ? hn : 1048576))
  nproc=$((hu < 32768 ? hu : 32768))
  write_if_changed "$CONTAINERS_CONF" "# written by santong scripts/container-engine.sh — do not edit
[containers]
default_ulimits = [\"nofile=${nofile}:${nofile}\", \"nproc=${nproc}:${nproc}\"]

[engine]
runtime = \"runc\"
cgroup_manager = \"cgroupfs\"
events_logger = \"file\"
tmp_dir = \"${HOME_DIR}/run/libpod\"

[network]
network_config_dir = \"${HOME_DIR}/net.d\""
  write_if_changed "$CONTAINERS_STORAGE_CONF" "# written by santong scripts/container-engine.sh — do not edit
[storage]
driver = \"overlay\"
runroot = \"${HOME_DIR}/run/storage\"
graphroot = \"${HOME_DIR}/storage\""
  mkdir -p "${HOME_DIR}/net.d"
  # run/ plays the role of a tmpfs: forget runtime state from a previous boot.
  local boot; boot="$(cat /proc/sys/kernel/random/boot_id 2>/dev/null || echo unknown)"
  if [[ "$(cat "${HOME_DIR}/boot_id" 2>/dev/null)" != "$boot" ]]; then
    rm -rf "${HOME_DIR}/run" "$SOCK" "$PID_FILE"
    printf '%s\n' "$boot" >"${HOME_DIR}/boot_id"
  fi
}

apt_mirror() {
  local uri f
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f "$f" ]] || continue
    uri="$(awk 'tolower($1)=="uris:" {for (i=2;i<=NF;i++) if ($i !~ /security/) {print $i; exit}}' "$f")"
    [[ -n "$uri" ]] && { printf '%s\n' "$uri"; return; }
  done
  if [[ -f /etc/apt/sources.list ]]; then
    uri="$(awk '$1=="deb" && $0 !~ /security/ {for (i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' \
      /etc/apt/sources.list)"
    [[ -n "$uri" ]] && { printf '%s\n' "$uri"; return; }
  fi
  printf '%s\n' "http://deb.debian.org/debian"
}

build_base_image() {
  local rootfs="${HOME_DIR}/rootfs.tmp" mirror crt
  mirror="$(apt_mirror)"
  say "… debootstrap ${SUITE} from ${mirror} (≈ 55 s; log ${LOG_DIR}/debootstrap.log)"
  rm -rf "$rootfs"
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    "$SUITE" "$rootfs" "$mirror" >"${LOG_DIR}/debootstrap.log" 2>&1 \
    || fail "debootstrap failed: $(tail -n 1 "${LOG_DIR}/debootstrap.log") (log ${LOG_DIR}/debootstrap.log)"
  # The host's extra CAs (e.g. an intercepting proxy's), so HTTPS from inside a container verifies.
  for crt in /usr/local/share/ca-certificates/*.crt; do
    [[ -f "$crt" ]] && cp "$crt" "${rootfs}/usr/local/share/ca-certificates/"
  done
  chroot "$rootfs" update-ca-certificates >>"${LOG_DIR}/debootstrap.log" 2>&1 \
    || fail "update-ca-certificates in chroot failed (log ${LOG_DIR}/debootstrap.log)"
  rm -rf "${rootfs}"/var/lib/apt/lists/* "${rootfs}"/var/cache/apt/*.bin "${rootfs}"/var/cache/apt/archives/*.deb
  say "… podman import ${BASE_IMAGE}"
  tar -C "$rootfs" -c . | podman import -q --change 'CMD ["/bin/bash"]' --change 'ENV LANG=C.UTF-8' \
    - "$BASE_IMAGE" >/dev/null || fail "podman import failed"
  rm -rf "$rootfs"
}

ensure_base_image() {
  if ! podman image exists "$BASE_IMAGE"; then
    if [[ -s "$BASE_TARBALL" ]]; then
      say "… podman load ${BASE_TARBALL}"
      # podman 4.3 `load -i` does not read gzip: decompress through a pipe.
      gzip -dc "$BASE_TARBALL" | podman load -q >/dev/null 2>"${LOG_DIR}/load.log" \
        || { say "… (cache unreadable, rebuilding / 缓存不可用，重建): $(tail -n 1 "${LOG_DIR}/load.log")"; rm -f "$BASE_TARBALL"; }
    fi
    podman image exists "$BASE_IMAGE" || build_base_image
  fi
  if [[ ! -s "$BASE_TARBALL" ]]; then
    say "… podman save | gzip > ${BASE_TARBALL}"
    podman save "$BASE_IMAGE" | gzip -1 >"${BASE_TARBALL}.tmp" && mv -f "${BASE_TARBALL}.tmp" "$BASE_TARBALL" \
      || { rm -f "${BASE_TARBALL}.tmp"; say "… (cache not written / 缓存未写入)"; }
  fi
}

ensure_service() {
  socket_answers && return 0
  local pid
  if pid="$(service_pid)"; then kill "$pid" 2>/dev/null || true; fi   # ours, but not answering
  rm -f "$SOCK"
  # setsid + own log file: the service must not hold the caller's stdout/stderr or die with its session;
  # 9>&-: nor our setup lock.
  ( exec setsid podman system service --time=0 "unix://${SOCK}" \
      </dev/null >>"${LOG_DIR}/podman-service.log" 2>&1 9>&- ) &
  printf '%s\n' "$!" >"$PID_FILE"
  for _ in $(seq 100); do socket_answers && return 0; sleep 0.1; done
  fail "podman system service did not answer on ${SOCK} (log ${LOG_DIR}/podman-service.log)"
}

cmd_up() {
  [[ "$(id -u)" == 0 ]] || fail "needs root (rootful podman)"
  mkdir -p "$HOME_DIR" "$LOG_DIR"
  # One setup at a time per work folder (several shells may source this at once).
  exec 9>"${HOME_DIR}/.lock"
  flock -w 900 9 || fail "another setup holds ${HOME_DIR}/.lock"
  ensure_packages
  write_configs
  ensure_base_image
  ensure_service
  say "容器引擎就绪 / container engine ready: $(podman --version), image ${BASE_IMAGE}, DOCKER_HOST=unix://${SOCK}"
}

case "${1:-up}" in
  up)
    cmd_up
    [[ -t 1 && -z "${_SCE_SOURCED:-}" ]] && { say "# 在当前 shell 中使用 / to use in this shell: source $0  (or: eval \"\$(bash $0 env)\")"; }
    exit 0 ;;
  env) print_env ;;
  status)
    if socket_answers; then say "容器引擎在线 / container engine answers: DOCKER_HOST=unix://${SOCK}"
    else say "容器引擎无响应 / container engine not answering: ${SOCK}"; exit 1; fi ;;
  stop) cmd_stop ;;
  *) say "usage: $0 [up|env|status|stop]"; exit 2 ;;
esac
