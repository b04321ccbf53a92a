#!/usr/bin/env bash
# CPU 过载下运行命令 / run a command while stress-ng (Debian's) keeps every core oversubscribed.
#
# Usage:
#   bash scripts/stress-ng.sh install           # apt-get install stress-ng when the binary is missing (idempotent)
#   bash scripts/stress-ng.sh run -- CMD ARGS…  # start `stress-ng --cpu WORKERS --timeout LIMIT`, run CMD, stop
#                                               # stress-ng when CMD ends (success, failure or signal); exit with
#                                               # CMD's exit code
#
# Environment: STRESS_WORKERS (default 2 × nproc: twice as many busy workers as cores), STRESS_TIMEOUT (default
# 3600 s: stress-ng stops by itself even if this script is killed with SIGKILL and its trap never runs).
set -euo pipefail

_say() { printf '%s\n' "$*" >&2; }

stress_install() {
  if command -v stress-ng >/dev/null 2>&1; then
    return 0
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    _say "没有 apt-get，无法安装 stress-ng / no apt-get: cannot install stress-ng"
    return 1
  fi
  local sudo=""
  if [[ "$(id -u)" != 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then sudo="sudo -n"; else
      _say "需要 root 安装 stress-ng / installing stress-ng needs root"
      return 1
    fi
  fi
  _say "安装 stress-ng / installing stress-ng (apt-get)"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends stress-ng >/dev/null ||
    { $sudo apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends stress-ng >/dev/null; }
  command -v stress-ng >/dev/null 2>&1
}

stress_run() {
  [[ "${1:-}" == "--" ]] && shift
  if [[ $# -eq 0 ]]; then
    _say "用法 / usage: scripts/stress-ng.sh run -- CMD ARGS…"
    return 2
  fi
  stress_install
  local workers="${STRESS_WORKERS:-$((2 * $(nproc)))}" limit="${STRESS_TIMEOUT:-3600}"
  stress-ng --cpu "$workers" --timeout "${limit}s" --quiet &
  STRESS_PID=$!
  # Stop stress-ng however the command ends (exit, failure, Ctrl-C, SIGTERM); on a signal stop the command too.
  CMD_PID=""
  trap 'kill -TERM "$STRESS_PID" 2>/dev/null || true; wait "$STRESS_PID" 2>/dev/null || true' EXIT
  trap '[[ -n "$CMD_PID" ]] && kill -TERM "$CMD_PID" 2>/dev/null; exit 130' INT
  trap '[[ -n "$CMD_PID" ]] && kill -TERM "$CMD_PID" 2>/dev/null; exit 143' TERM
  _say "stress-ng --cpu $workers --timeout ${limit}s (pid $STRESS_PID) 运行中 / running: $*"
  "$@" &
  CMD_PID=$!
  local rc=0
  wait "$CMD_PID" || rc=$?
  return "$rc"
}

case "${1:-}" in
  install) stress_install ;;
  run) shift; stress_run "$@" ;;
  *) _say "用法 / usage: scripts/stress-ng.sh install | run -- CMD ARGS…"; exit 2 ;;
esac
