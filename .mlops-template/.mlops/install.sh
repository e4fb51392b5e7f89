#!/bin/sh
# Installed by `mlops init`. Installs a pinned mlops release in seconds, with
# nothing but a POSIX shell, curl or wget, tar and sha256sum (or shasum):
#
#   sh .mlops/install.sh [VERSION]
#   sh .mlops/install.sh --print-version [VERSION]   # the version it would install
#
# The version is, first found: the argument, $MLOPS_VERSION, or this line under
# `[ci]` in ./mlops.toml (one `key = "value"` a line; a trailing comment is fine):
#
#   [ci]
#   mlops_version = "0.4.2"
#   mlops_sha256 = "<sha-256 of the archive>"   # optional: pin the archive itself
#   install_url = "https://mirror.bank.example/mlops"   # optional: a mirror
#
# It downloads $BASE/v$VERSION/mlops-$VERSION-$TARGET.tar.gz, where $BASE is
# $MLOPS_INSTALL_URL, else `install_url` under [ci], else the GitHub releases,
# and checks its SHA-256 against $MLOPS_SHA256, else `mlops_sha256` under [ci],
# else the archive's line of $BASE/v$VERSION/SHA256SUMS. Nothing is installed
# unless the hash matches. The binary goes to $MLOPS_INSTALL_DIR (default
# ~/.local/bin), replaced atomically; on GitHub Actions that folder is added
# to $GITHUB_PATH. If that folder already holds the version, nothing is fetched.
#
# Exit codes: 0 installed (or already there), 1 a download or the SHA-256
# check failed, 2 no version, an unsupported platform or a missing tool.
set -eu

DEFAULT_URL="https://github.com/mlops-dev/mlops/releases/download"
SOURCE_REPO="https://github.com/mlops-dev/mlops"

die() {
  code=$1
  shift
  printf 'error: %s\n' "$*" >&2
  exit "$code"
}

say() {
  printf '%s\n' "$*" >&2
}

# The string value of `key` in the [ci] table of ./mlops.toml, or nothing.
toml_ci() {
  [ -f mlops.toml ] || return 0
  awk -v key="$1" '
    /^[ \t]*\[/ {
      section = $0
      sub(/^[ \t]*\[[ \t]*/, "", section)
      sub(/[ \t]*\].*$/, "", section)
      next
    }
    section == "ci" && $0 ~ ("^[ \t]*" key "[ \t]*=") {
      value = $0
      sub(/^[^=]*=[ \t]*/, "", value)
      quote = substr(value, 1, 1)
      if (quote != "\"" && quote != "\047") next
      value = substr(value, 2)
      end = index(value, quote)
      if (end == 0) next
      print substr(value, 1, end - 1)
      exit
    }
  ' mlops.toml
}

resolve_version() {
  version=${1:-${MLOPS_VERSION:-}}
  if [ -z "$version" ]; then
    version=$(toml_ci mlops_version)
  fi
  if [ -z "$version" ]; then
    die 2 "no mlops version: pass one (sh .mlops/install.sh 0.4.2), set MLOPS_VERSION, or add mlops_version = \"0.4.2\" under [ci] in mlops.toml"
  fi
  version=${version#v}
  case $version in
    *[!0-9A-Za-z.+-]* | [!0-9]*)
      die 2 "\`$version\` is not an mlops version (expected one such as 0.4.2)"
      ;;
  esac
}

detect_target() {
  os=$(uname -s)
  arch=$(uname -m)
  case $arch in
    x86_64 | amd64) arch=x86_64 ;;
    aarch64 | arm64) arch=aarch64 ;;
  esac
  case "$os/$arch" in
    Linux/x86_64 | Linux/aarch64) target="$arch-unknown-linux-musl" ;;
    Darwin/x86_64 | Darwin/aarch64) target="$arch-apple-darwin" ;;
    *)
      die 2 "no mlops release for $os $(uname -m); build it from source: cargo install --git $SOURCE_REPO --tag v$version --locked mlops"
      ;;
  esac
}

# fetch URL FILE
fetch() {
  if command -v curl >/dev/null 2>&1; then
    curl -fsSL --retry 3 -o "$2" "$1" || die 1 "cannot download $1"
  elif command -v wget >/dev/null 2>&1; then
    wget -q --tries=3 -O "$2" "$1" || die 1 "cannot download $1"
  else
    die 2 "neither curl nor wget is installed"
  fi
}

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | awk '{ print $1 }'
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 "$1" | awk '{ print $1 }'
  else
    die 2 "neither sha256sum nor shasum is installed"
  fi
}

lowercase() {
  printf '%s' "$1" | tr 'ABCDEF' 'abcdef'
}

tmp=""
staged=""
cleanup() {
  if [ -n "$staged" ]; then rm -f "$staged"; fi
  if [ -n "$tmp" ]; then rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

case ${1:-} in
  -h | --help)
    sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  --print-version)
    [ "$#" -le 2 ] || die 2 "too many arguments (usage: sh .mlops/install.sh --print-version [VERSION])"
    resolve_version "${2:-}"
    printf '%s\n' "$version"
    exit 0
    ;;
  -*)
    die 2 "unknown option \`$1\` (usage: sh .mlops/install.sh [VERSION | --print-version])"
    ;;
esac
[ "$#" -le 1 ] || die 2 "too many arguments (usage: sh .mlops/install.sh [VERSION])"

resolve_version "${1:-}"
detect_target

if [ -n "${MLOPS_INSTALL_DIR:-}" ]; then
  dir=$MLOPS_INSTALL_DIR
elif [ -n "${HOME:-}" ]; then
  dir="$HOME/.local/bin"
else
  die 2 "neither MLOPS_INSTALL_DIR nor HOME is set"
fi

add_to_github_path() {
  if [ -n "${GITHUB_PATH:-}" ]; then
    printf '%s\n' "$dir" >>"$GITHUB_PATH"
  fi
}

# The cache hit: the folder already holds this very version.
if [ -x "$dir/mlops" ] && [ "$("$dir/mlops" --version 2>/dev/null || true)" = "mlops $version" ]; then
  add_to_github_path
  printf 'mlops %s is already installed in %s\n' "$version" "$dir"
  exit 0
fi

base=${MLOPS_INSTALL_URL:-}
if [ -z "$base" ]; then
  base=$(toml_ci install_url)
fi
base=${base:-$DEFAULT_URL}
base=${base%/}

archive="mlops-$version-$target.tar.gz"
url="$base/v$version/$archive"

tmp=$(mktemp -d 2>/dev/null || mktemp -d -t mlops-install)
say "downloading $url"
fetch "$url" "$tmp/$archive"

expected=${MLOPS_SHA256:-}
pinned="MLOPS_SHA256"
if [ -z "$expected" ]; then
  expected=$(toml_ci mlops_sha256)
  pinned="mlops_sha256 in mlops.toml"
fi
if [ -z "$expected" ]; then
  fetch "$base/v$version/SHA256SUMS" "$tmp/SHA256SUMS"
  expected=$(awk -v file="$archive" '$2 == file || $2 == "*" file { print $1; exit }' "$tmp/SHA256SUMS")
  pinned="SHA256SUMS"
  [ -n "$expected" ] || die 1 "$archive is not listed in $base/v$version/SHA256SUMS"
fi
expected=$(lowercase "$expected")
case $expected in
  *[!0-9a-f]*) die 1 "the expected SHA-256 from $pinned is not a SHA-256: $expected" ;;
esac
[ "${#expected}" -eq 64 ] || die 1 "the expected SHA-256 from $pinned is not a SHA-256: $expected"

actual=$(sha256_of "$tmp/$archive")
actual=$(lowercase "$actual")
if [ "$actual" != "$expected" ]; then
  die 1 "$archive: SHA-256 mismatch (expected $expected, got $actual); nothing installed"
fi

mkdir "$tmp/x"
tar -xzf "$tmp/$archive" -C "$tmp/x" || die 1 "cannot unpack $archive"
[ -f "$tmp/x/mlops" ] || die 1 "$archive holds no mlops binary at its top level"

# Atomic: a temporary name in the target folder, checked, then renamed over.
mkdir -p "$dir" || die 2 "cannot create $dir"
staged="$dir/.mlops.install.$$"
cp "$tmp/x/mlops" "$staged" || die 2 "cannot write to $dir"
chmod 755 "$staged"
got=$("$staged" --version 2>/dev/null || true)
if [ "$got" != "mlops $version" ]; then
  die 1 "the downloaded binary does not run as mlops $version (it says: ${got:-nothing}); nothing installed"
fi
mv -f "$staged" "$dir/mlops"
staged=""

add_to_github_path
case ":${PATH:-}:" in
  *":$dir:"*) ;;
  *) [ -n "${GITHUB_PATH:-}" ] || say "note: $dir is not on PATH" ;;
esac
printf 'installed mlops %s to %s\n' "$version" "$dir"
