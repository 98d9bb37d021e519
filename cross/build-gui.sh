#!/usr/bin/env bash
# Build the desktop client (default features: FLTK GUI) for a Pi with a
# desktop, 64-bit Raspberry Pi OS: aarch64-unknown-linux-gnu, dynamically
# linked against the Pi's X11/pango/cairo. Needs Debian's arm64 multiarch
# -dev packages and g++-aarch64-linux-gnu (cross.mk installs them) and
# CMake >= 3.28 for FLTK, which Debian 12 lacks: taken from PyPI into .tools/.
set -euo pipefail

CARGO=${CARGO:-cargo}
DIST=${DIST:-dist}
CROSS_TOOLS=${CROSS_TOOLS:-.tools/cross}
target=aarch64-unknown-linux-gnu
say() { printf 'cross: %s\n' "$*" >&2; }

start=$(date +%s)
rustup target list --installed | grep -qx $target || rustup target add $target
venv=$CROSS_TOOLS/cmake-venv
if ! "$venv/bin/cmake" --version >/dev/null 2>&1; then
    say "installing cmake from PyPI into $venv"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check 'cmake>=3.28,<4'
fi
PATH="$(cd "$venv/bin" && pwd):$PATH"
export PATH
export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
export CXX_aarch64_unknown_linux_gnu=aarch64-linux-gnu-g++
export AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export PKG_CONFIG_ALLOW_CROSS=1
export PKG_CONFIG_LIBDIR=/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig
$CARGO build --release --bin lanchat --target $target

built=${CARGO_TARGET_DIR:-target}/$target/release/lanchat
desc=$(file -b "$built")
case $desc in *"ARM aarch64"*) ;; *) say "FAIL: $built: $desc"; exit 1 ;; esac
mkdir -p "$DIST"
out=$DIST/lanchat-gui-aarch64-linux-gnu
cmp -s "$built" "$out" 2>/dev/null || { cp "$built" "$out.tmp" && mv "$out.tmp" "$out"; }
if [ ! -f "$out.sha256" ] || [ "$out" -nt "$out.sha256" ]; then
    (cd "$DIST" && sha256sum "$(basename "$out")" > "$(basename "$out").sha256")
fi
glibc=$(aarch64-linux-gnu-objdump -T "$out" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)
say "$out: $(stat -c %s "$out") bytes, needs $glibc, $(($(date +%s) - start)) s"
