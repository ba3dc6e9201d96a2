# Shared steps of scripts/setup-and-demo and scripts/test: system packages, the venv, the JS toolchain.
# Sourced, not run. Expects the repository root as the working directory.

say() { printf '==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "need root for: $* (run as root or install sudo)"
  fi
}

# apt_install PKG...: installs the packages that are not installed yet; apt-get update only if needed.
apt_install() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    say "system packages present: $*"
    return 0
  fi
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install by hand: ${missing[*]}"
  say "apt-get install ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# The interview kernels' toolchains (kernels/interview_kernel): C, C++, Go, Rust, Ruby, Java (jshell), and the
# typescript npm package for the TypeScript kernel. Node.js and Bash are checked or present already.
KERNEL_TOOLCHAINS="gcc g++ golang-go rustc ruby openjdk-17-jdk-headless node-typescript"

# The Docker sandbox backend's tests (tests/docker_engine.py) drive podman's Docker-compatible API service:
# podman with runc as its runtime (not crun), catatonit as the containers' init. Docker itself is not needed.
DOCKER_TEST_PACKAGES="podman runc catatonit"

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}

check_python() {
  command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found; install Python 3.11 or newer"
  "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || die "$("$PYTHON" --version 2>&1) is too old; Python 3.11 or newer is needed (set PYTHON=python3.12 etc.)"
}

check_node() {
  command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 \
    || die "node and npm not found; install Node.js 20 or newer (it builds the JupyterLab extension)"
  node -e 'process.exit(Number(process.versions.node.split(".")[0]) < 20 ? 1 : 0)' \
    || die "Node.js $(node --version) is too old; Node.js 20 or newer is needed"
}

# venv_packages: what `python3 -m venv` needs beyond Python itself (Debian splits out ensurepip).
venv_packages() {
  if [ ! -x "$VENV/bin/python" ] && ! "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1; then
    echo python3-venv
  fi
}

ensure_venv() {
  if [ ! -x "$VENV/bin/python" ]; then
    say "creating $VENV with $("$PYTHON" --version 2>&1)"
    "$PYTHON" -m venv "$VENV"
  fi
}

# npm_ci_if_lock_changed: a clean `npm ci` when package-lock.json differs from what was installed last.
npm_ci_if_lock_changed() {
  local stamp=node_modules/.jupyter-interview-lock.sha256 want
  want=$(sha256sum package-lock.json | cut -d' ' -f1)
  if [ -d node_modules ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    say "node_modules matches package-lock.json"
    return 0
  fi
  say "npm ci (package-lock.json changed or node_modules missing)"
  npm ci --no-audit --no-fund
  echo "$want" > "$stamp"
}
