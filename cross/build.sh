#!/usr/bin/env bash
# Build the headless lanchat server as a fully static, stripped musl binary
# for each Rust target given, and put it in $DIST with a .sha256 beside it:
# lanchat-<arch>-linux-<abi> without TLS, and lanchat-tls-<arch>-linux-<abi>
# with it (CROSS_VARIANTS="plain tls" by default).
#
#   cross/build.sh aarch64-unknown-linux-musl armv7-unknown-linux-musleabihf ...
#
# Per target, the cheapest way that works is chosen:
#   1. rustup can install the target's rust-std -> stable toolchain, linked by
#      rust-lld against the self-contained musl in rust-std (cross/rust-lld.toml).
#   2. it cannot, or the build compiles C (the TLS variant: ring) -> std is
#      built from rust-src on the nightly toolchain (-Zbuild-std) and linked
#      by cargo-zigbuild with zig from PyPI, which supplies musl libc, crt
#      objects, libunwind and a C compiler for the target CPU (cross/zig.toml).
# Everything is installed on first use and reused after: a second run is a
# cargo no-op plus a few checks.
set -euo pipefail

CARGO=${CARGO:-cargo}
SERVER_FLAGS=${SERVER_FLAGS:---no-default-features}
DIST=${DIST:-dist}
CROSS_NIGHTLY=${CROSS_NIGHTLY:-nightly}
CROSS_TOOLS=${CROSS_TOOLS:-.tools/cross}
# Pinned versions that were tested together.
ZIGBUILD_PIP=${ZIGBUILD_PIP:-cargo-zigbuild==0.24.1 ziglang==0.17.1}
# Extra cargo arguments, e.g. for size experiments:
#   CROSS_CARGO_ARGS='--config profile.release.opt-level="z"'
CROSS_CARGO_ARGS=${CROSS_CARGO_ARGS:-}
# Set CROSS_FORCE_ZIG=1 to take path 2 even where rustup has the target.
CROSS_FORCE_ZIG=${CROSS_FORCE_ZIG:-0}
# CROSS_SMALL=1: about 35% smaller binaries (see cross/README.md): path 2 for
# every target, so std is compiled with the crate (LTO reaches into std) at
# opt-level "z" with std's optimize_for_size, and panics carry no file:line.
CROSS_SMALL=${CROSS_SMALL:-0}
# Which servers to build: plain (SERVER_FLAGS) and tls (SERVER_FLAGS --features tls).
CROSS_VARIANTS=${CROSS_VARIANTS:-plain tls}
# TLS servers built with our own code at opt-level "z" from the start: those
# known not to fit 1.5 MiB at "s" (aarch64: 1,610,344 bytes in December 2026).
# Any other that does not fit is rebuilt so by itself (see build()).
CROSS_TLS_SMALL_CODE=${CROSS_TLS_SMALL_CODE:-aarch64-unknown-linux-musl}

here=$(cd "$(dirname "$0")" && pwd)
say() { printf 'cross: %s\n' "$*" >&2; }

# dist name: drop the vendor, and call ARMv6 by its name; `tls` for the TLS variant.
dist_name() {
    local prefix=lanchat
    [ "${2:-plain}" = tls ] && prefix=lanchat-tls
    printf '%s-%s\n' "$prefix" "$(printf '%s' "$1" | sed 's/-unknown-/-/; s/^arm-/armv6-/')"
}

rustup_has_target() {
    rustup target list --installed 2>/dev/null | grep -qx "$1" && return 0
    say "rustup target add $1"
    rustup target add "$1" >/dev/null 2>&1
}

ensure_nightly_src() {
    if ! rustup toolchain list | grep -q "^$CROSS_NIGHTLY"; then
        say "installing toolchain $CROSS_NIGHTLY"
        rustup toolchain install "$CROSS_NIGHTLY" --profile minimal --component rust-src
    fi
    if ! rustup component list --installed --toolchain "$CROSS_NIGHTLY" | grep -q '^rust-src'; then
        say "installing rust-src for $CROSS_NIGHTLY"
        rustup component add rust-src --toolchain "$CROSS_NIGHTLY"
    fi
}

ensure_zigbuild() {
    local venv=$CROSS_TOOLS/zig-venv
    if [ ! -x "$venv/bin/cargo-zigbuild" ] || ! "$venv/bin/python3" -m ziglang version >/dev/null 2>&1; then
        say "installing $ZIGBUILD_PIP into $venv"
        rm -rf "$venv"
        python3 -m venv "$venv"
        # shellcheck disable=SC2086
        "$venv/bin/pip" install -q --disable-pip-version-check $ZIGBUILD_PIP
    fi
    ZIG_BIN=$(cd "$venv/bin" && pwd)
}

check_static() {
    local bin=$1 desc
    desc=$(file -b "$bin")
    case $desc in
        *"dynamically linked"* | *interpreter*) say "FAIL: $bin is not static: $desc"; return 1 ;;
    esac
    case $desc in
        *"statically linked"* | *"static-pie linked"*) ;;
        *) say "FAIL: $bin: file does not say statically linked: $desc"; return 1 ;;
    esac
    case $desc in
        *"not stripped"*) say "FAIL: $bin is not stripped: $desc"; return 1 ;;
    esac
    say "ok: $(basename "$bin"): $desc"
}

build() {
    local target=$1 variant=$2 small_code=${3:-0} start extra flags=$SERVER_FLAGS force_zig=$CROSS_FORCE_ZIG
    start=$(date +%s)
    extra=$CROSS_CARGO_ARGS
    # Over budget at "s" (see the end): our own code at "z" too. It costs
    # the plain path about 16% more instructions per delivery (TLS: 2%).
    [ "$small_code" = 1 ] && extra="--config profile.release.package.lanchat.opt-level=\"z\" $extra"
    # std is built from source (path 2) for every server: built for size, and
    # panics without file:line, it keeps each ARM server within its budget
    # (under 1 MiB, 1.5 MiB with TLS; see cross/README.md); our own code
    # stays at opt-level "s".
    force_zig=1
    extra="-Zbuild-std-features=optimize_for_size --config target.$target.rustflags=[\"-Zlocation-detail=none\"] $extra"
    if [ "$variant" = tls ]; then
        flags="$SERVER_FLAGS --features tls"
        # The TLS crates (run once per handshake, not per message) for size:
        # 32 KB that keeps the aarch64 TLS server under 1.5 MiB.
        for crate in rustls rustls-webpki rcgen; do
            extra="--config profile.release.package.$crate.opt-level=\"z\" $extra"
        done
    fi
    if [ "$CROSS_SMALL" = 1 ]; then
        force_zig=1
        extra="--config profile.release.opt-level=\"z\" -Zbuild-std-features=optimize_for_size"
        extra="$extra --config target.$target.rustflags=[\"-Zlocation-detail=none\"] $CROSS_CARGO_ARGS"
    fi
    if [ "$force_zig" != 1 ] && rustup_has_target "$target"; then
        how="stable rust-std + rust-lld"
        # shellcheck disable=SC2086
        $CARGO build --release $flags --bin lanchat --target "$target" \
            --config "$here/rust-lld.toml" $extra
    else
        how="nightly -Zbuild-std + cargo-zigbuild"
        if [ "$force_zig" = 1 ]; then say "$target ($variant): building std from source with zig"
        else say "rustup has no rust-std for $target: building std from source"; fi
        ensure_nightly_src
        ensure_zigbuild
        # shellcheck disable=SC2086
        PATH="$ZIG_BIN:$PATH" RUSTUP_TOOLCHAIN=$CROSS_NIGHTLY \
            $CARGO zigbuild --release $flags --bin lanchat --target "$target" \
            --config "$here/zig.toml" $extra
    fi
    built=${CARGO_TARGET_DIR:-target}/$target/release/lanchat
    check_static "$built"
    out=$DIST/$(dist_name "$target" "$variant")
    if ! cmp -s "$built" "$out" 2>/dev/null; then
        cp "$built" "$out.tmp" && mv "$out.tmp" "$out"
    fi
    if [ ! -f "$out.sha256" ] || [ "$out" -nt "$out.sha256" ]; then
        (cd "$DIST" && sha256sum "$(basename "$out")" > "$(basename "$out").sha256")
    fi
    [ "$small_code" = 1 ] && how="$how, our code at opt-level z"
    say "$out: $(stat -c %s "$out") bytes, $(($(date +%s) - start)) s ($how)"
    # The size budgets are decisions (README): a build over one fails. A
    # TLS server over it at "s" gets one more try with our code at "z":
    # the price in speed is paid only where the budget asks for it.
    local budget=$((1024 * 1024))
    [ "$variant" = tls ] && budget=$((1536 * 1024))
    if [ "$(stat -c %s "$out")" -ge "$budget" ]; then
        if [ "$variant" = tls ] && [ "$small_code" = 0 ] && [ "$CROSS_SMALL" != 1 ]; then
            say "$out is over its budget of $budget bytes at opt-level s: building our code at z"
            build "$target" "$variant" 1
            return
        fi
        say "$out is over its budget of $budget bytes"
        exit 1
    fi
}

mkdir -p "$DIST"
for target in "$@"; do
    for variant in $CROSS_VARIANTS; do
        small_code=0
        [ "$variant" = tls ] && case " $CROSS_TLS_SMALL_CODE " in *" $target "*) small_code=1 ;; esac
        build "$target" "$variant" "$small_code"
    done
done
