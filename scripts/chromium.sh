#!/usr/bin/env bash
# 报告的浏览器测试所需工具 / what the HTML-report browser tests need: Debian's chromium (headless), a CJK font
# (fonts-wqy-microhei: without it Chinese renders as boxes) and poppler-utils (pdftoppm, pdfinfo for the A4 check).
#
# Usage:
#   bash scripts/chromium.sh install   # apt-get install what is missing (idempotent; needs root or sudo -n and
#                                      # the machine's apt mirror)
#   bash scripts/chromium.sh path      # print the chromium binary (exit 1 when missing)
#   source scripts/chromium.sh         # define the functions (chromium_install, chromium_path)

_chromium_say() { printf '%s\n' "$*" >&2; }

chromium_path() {
  local p
  for p in "$(command -v chromium 2>/dev/null)" /usr/bin/chromium "$(command -v chromium-browser 2>/dev/null)"; do
    if [[ -n "$p" && -x "$p" ]]; then
      printf '%s\n' "$p"
      return 0
    fi
  done
  return 1
}

_chromium_missing() {
  local missing=()
  chromium_path >/dev/null || missing+=(chromium)
  [[ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ]] || missing+=(fonts-wqy-microhei)
  command -v pdftoppm >/dev/null 2>&1 || missing+=(poppler-utils)
  printf '%s\n' "${missing[@]}"
}

chromium_install() {
  local missing
  mapfile -t missing < <(_chromium_missing | sed '/^$/d')
  if [[ ${#missing[@]} -eq 0 ]]; then
    return 0
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    _chromium_say "没有 apt-get，无法安装 ${missing[*]} / no apt-get: cannot install ${missing[*]}"
    return 1
  fi
  local sudo=""
  if [[ "$(id -u)" != 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then sudo="sudo -n"; else
      _chromium_say "需要 root 安装 ${missing[*]} / installing ${missing[*]} needs root"
      return 1
    fi
  fi
  _chromium_say "安装 ${missing[*]} / installing ${missing[*]} (apt-get)"
  # The package lists may be missing or stale on a fresh machine: update once if the install fails.
  if ! DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive $sudo apt-get update -qq >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || return 1
  fi
  [[ -z "$(_chromium_missing | sed '/^$/d')" ]]
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -euo pipefail
  case "${1:-}" in
    install) chromium_install ;;
    path) chromium_path ;;
    *)
      _chromium_say "用法 usage: bash scripts/chromium.sh install|path"
      exit 2
      ;;
  esac
fi
