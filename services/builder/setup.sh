#!/bin/sh
# Tessera's build steps, run inside the image being built (RUN ["/bin/sh", THIS, STEP, ...]).
# User input never appears in this text or in the Containerfile's commands: package names
# and requirements are read from files of the build context and passed as quoted arguments.
set -eu
T=${TESSERA_TOOLS:-/opt/tessera}  # the tools folder (set elsewhere only by tests)
VENV=$T/venv

manager() {
  for pm in apt-get dnf microdnf yum apk; do
    if command -v "$pm" >/dev/null 2>&1; then echo "$pm"; return 0; fi
  done
  echo "tessera: the base image has no supported package manager" \
    "(apt-get, dnf, microdnf, yum, apk)" >&2
  return 1
}

# name=version is the request's syntax; RPM tools spell it name-version, and only apt
# knows name:arch.
spell() {
  case "$PM:$1" in
    dnf:*=* | yum:*=* | microdnf:*=*) echo "${1%%=*}-${1#*=}" ;;
    *) echo "$1" ;;
  esac
}

install() {  # install PACKAGE...
  [ "$#" -gt 0 ] || return 0
  echo "tessera: installing with $PM: $*"
  case "$PM" in
    apt-get)
      [ -n "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v '^lock$\|^partial$' || true)" ] \
        || apt-get update -q
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"
      rm -rf /var/lib/apt/lists/*
      ;;
    dnf) dnf install -y --setopt=install_weak_deps=False "$@" && dnf clean all ;;
    microdnf) microdnf install -y "$@" && microdnf clean all ;;
    yum) yum install -y "$@" && yum clean all ;;
    apk) apk add --no-cache "$@" ;;
  esac
}

update() {
  echo "tessera: updating the base image with $PM"
  case "$PM" in
    apt-get)
      apt-get update -q
      DEBIAN_FRONTEND=noninteractive apt-get upgrade -y -q
      ;;
    dnf) dnf upgrade -y ;;
    microdnf) microdnf upgrade -y ;;
    yum) yum update -y ;;
    apk) apk upgrade --no-cache ;;
  esac
}

needs_venv() {
  [ -s "$T/requirements.txt" ] || [ -e "$T/upgrade-pip" ] || [ -s "$T/package-manager" ]
}

packages() {
  set --
  while IFS= read -r package || [ -n "$package" ]; do
    [ -n "$package" ] && set -- "$@" "$(spell "$package")"
  done <"$T/packages.txt"
  # The hwinfo probe needs a Python; a venv needs the venv module and ensurepip.
  if ! command -v python3 >/dev/null 2>&1; then
    echo "tessera: the base image has no python3: adding it for the probe"
    set -- "$@" python3
    [ "$PM" = apk ] && set -- "$@" py3-pip
    [ "$PM" = apt-get ] && needs_venv && set -- "$@" python3-venv
  elif needs_venv && ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    case "$PM" in
      apt-get) set -- "$@" python3-venv ;;
      apk) set -- "$@" py3-pip ;;
      *) set -- "$@" python3-pip ;;
    esac
  fi
  install "$@"
  command -v python3 >/dev/null 2>&1 \
    || { echo "tessera: python3 is still missing after the install" >&2; exit 1; }
}

python() {
  needs_venv || { echo "tessera: no Python packages"; return 0; }
  python3 -m venv "$VENV"
  set -- "$VENV/bin/python" -m pip install --no-input --disable-pip-version-check
  if [ -s "$T/pip-index-url" ]; then
    set -- "$@" --index-url "$(cat "$T/pip-index-url")"
  fi
  # A TLS-inspecting proxy's CA, when the admin configured one; removed in the last step.
  [ -s "$T/ca.pem" ] && set -- "$@" --cert "$T/ca.pem"
  [ -e "$T/upgrade-pip" ] && "$@" --upgrade pip
  if [ -s "$T/requirements.txt" ]; then
    if [ -e "$T/requirements-locked" ]; then
      "$@" --require-hashes --no-deps -r "$T/requirements.txt"
    else
      "$@" -r "$T/requirements.txt"
    fi
  fi
  [ -s "$T/package-manager" ] || return 0
  # micropipenv or pipenv installs the Pipfile.lock into the venv, each package from the
  # index the lock names; --deploy checks the lock's hash against the Pipfile.
  pm=$(cat "$T/package-manager")
  case "$pm" in micropipenv | pipenv) ;; *) echo "tessera: unknown manager" >&2; exit 1 ;; esac
  echo "tessera: installing Pipfile.lock with $pm"
  (
    cd "$T/pipenv"
    export PATH="$VENV/bin:$PATH" VIRTUAL_ENV="$VENV" MICROPIPENV_PIP_BIN="$VENV/bin/pip"
    export PIPENV_VERBOSITY=-1 PIPENV_YES=1 HOME="$T/pipenv"
    [ -s "$T/ca.pem" ] && export PIP_CERT="$T/ca.pem"
    if [ "$pm" = pipenv ]; then
      "$VENV/bin/pipenv" install --deploy --system
    else
      "$VENV/bin/micropipenv" install --deploy
    fi
  )
}

user() {  # user UID: the non-root user runs are made as
  uid=$1
  home=/home/tessera
  grep -q "^[^:]*:[^:]*:$uid:" /etc/group || echo "tessera:x:$uid:" >>/etc/group
  grep -q "^[^:]*:[^:]*:$uid:" /etc/passwd \
    || echo "tessera:x:$uid:$uid:Tessera:$home:/bin/sh" >>/etc/passwd
  mkdir -p "$home"
  chown "$uid:$uid" "$home"
  rm -f "$T/ca.pem"
  chmod -R a+rX "$T"
}

PM=$(manager)
step=$1
shift
"$step" "$@"
