#!/usr/bin/env bash
# 构建模拟平台镜像 / build the mock platform image localhost/santong-mock:dev (docker/mock-platform.Dockerfile).
#
#   bash scripts/build-mock-image.sh            # build, or skip when nothing changed
#   bash scripts/build-mock-image.sh --force    # always rebuild
#
# The image build needs no network: santong is built as a wheel on the host (from a copy of the tree in the
# work folder, so the repository gets no build/ folder), its dependency wheels are fetched/built on the host
# by pip (cached in the work folder, refreshed only when santong's requirements change), and
# `podman build --network=none --pull=never` installs them with `pip install --no-index`.
# Skips the build when the image exists and carries the same santong.build-hash label
# (hash of the santong wheel, the dependency wheels, the Dockerfile and the base image ID).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"

IMAGE="${SANTONG_MOCK_IMAGE:-localhost/santong-mock:dev}"
DOCKERFILE="docker/mock-platform.Dockerfile"
PY="${PYTHON:-$REPO/.venv/bin/python}"
HOME_DIR="${SANTONG_CONTAINER_HOME:-/var/tmp/santong-containers}"
BUILD_DIR="${HOME_DIR}/mock-build"
SRC="${BUILD_DIR}/src"
CTX="${BUILD_DIR}/context"
WHEELS="${CTX}/wheels"
LOG="${HOME_DIR}/logs/build-mock-image.log"
FORCE=0
[[ "${1:-}" == "--force" ]] && FORCE=1

say() { printf '%s\n' "$*" >&2; }
fail() { say "模拟平台镜像构建失败 / mock image build failed: $*"; exit 1; }
t0=$(date +%s%N)
elapsed() { local ms=$(( ($(date +%s%N) - t0) / 1000000 )); printf '%d.%d s' $((ms / 1000)) $((ms % 1000 / 100)); }

# Engine + base image (idempotent; a few tenths of a second when already set up).
# shellcheck source=scripts/container-engine.sh
source scripts/container-engine.sh || exit 1
mkdir -p "$WHEELS" "$(dirname "$LOG")"
exec 8>"${BUILD_DIR}/.lock"   # one build at a time per work folder
flock -w 900 8 || fail "another build holds ${BUILD_DIR}/.lock"
: >"$LOG"

# 1. A clean copy of the tree (other work in progress in the repo is copied as it is, never written to).
rm -rf "$SRC" && mkdir -p "$SRC"
tar -C "$REPO" -c \
  --exclude=./.git --exclude=./.venv --exclude=./.buf --exclude=./build --exclude=./dist \
  --exclude='*.egg-info' --exclude=__pycache__ --exclude=.pytest_cache --exclude=.mypy_cache \
  --exclude=.ruff_cache --exclude=.hypothesis --exclude=./out --exclude=./demo-out . | tar -C "$SRC" -x

# 2. santong's wheel, reproducible (fixed zip timestamps) so an unchanged tree gives the same hash.
rm -f "$WHEELS"/santong-*.whl
SOURCE_DATE_EPOCH=315532800 "$PY" -m pip wheel -q --no-deps --no-build-isolation -w "$WHEELS" "$SRC" \
  >>"$LOG" 2>&1 || fail "pip wheel santong (log $LOG)"
whl="$(ls "$WHEELS"/santong-*.whl)"
version="$(basename "$whl" | cut -d- -f2)"

# 3. Dependency wheels, on the host (pip may use its index here), only when santong's requirements changed.
reqs="$("$PY" - "$whl" <<'EOF'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
    print("\n".join(sorted(l for l in z.read(meta).decode().splitlines() if l.startswith("Requires-Dist:")
                           and "extra ==" not in l)))
EOF
)"
reqs_hash="$(printf '%s' "$reqs" | sha256sum | cut -c1-16)"
if [[ "$(cat "${BUILD_DIR}/deps.stamp" 2>/dev/null)" != "$reqs_hash" ]]; then
  say "… pip wheel dependencies → ${WHEELS}"
  "$PY" -m pip wheel -q --find-links "$WHEELS" -w "$WHEELS" "$whl" >>"$LOG" 2>&1 \
    || fail "pip wheel dependencies (log $LOG)"
  printf '%s\n' "$reqs_hash" >"${BUILD_DIR}/deps.stamp"
fi

# 4. Build unless the same inputs already made the image.
base_id="$(podman image inspect --format '{{.Id}}' localhost/localbase:bookworm)"
build_hash="$( { (cd "$WHEELS" && sha256sum -- *.whl); sha256sum <"$DOCKERFILE"; echo "$base_id"; } \
  | sha256sum | cut -c1-32)"
current="$(podman image inspect --format '{{index .Labels "santong.build-hash"}}' "$IMAGE" 2>/dev/null || true)"
old_id="$(podman image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)"
if [[ $FORCE == 0 && "$current" == "$build_hash" ]]; then
  say "模拟平台镜像已是最新 / mock image up to date: ${IMAGE} (santong ${version}, $(elapsed))"
  exit 0
fi
say "… podman build ${IMAGE} (no network)"
podman build -q --no-cache --network=none --pull=never \
  --build-arg "SANTONG_VERSION=${version}" \
  --label "santong.build-hash=${build_hash}" --label "org.opencontainers.image.version=${version}" \
  -t "$IMAGE" -f "$DOCKERFILE" "$CTX" >>"$LOG" 2>&1 || fail "podman build (log $LOG): $(tail -n 3 "$LOG" | tr '\n' ' ')"
if [[ -n "$old_id" && "$old_id" != "$(podman image inspect --format '{{.Id}}' "$IMAGE")" ]]; then
  podman rmi "$old_id" >/dev/null 2>&1 || true   # the previous image, now untagged (kept if a container uses it)
fi
say "模拟平台镜像已构建 / mock image built: ${IMAGE} (santong ${version}, $(elapsed))"
