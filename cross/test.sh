#!/usr/bin/env bash
# Run the server integration tests (`core_*` in tests/server.rs) against each
# ARM binary in $DIST under qemu-user, with a CPU model that matches the
# oldest Pi the binary is for: an ARMv7 instruction in the ARMv6 build dies
# with SIGILL under -cpu arm1176. The TLS build of each gets a TLS client
# (openssl) chatting with a plain one (tests/tls.rs).
#
#   cross/test.sh aarch64-unknown-linux-musl armv7-unknown-linux-musleabihf ...
set -euo pipefail

CARGO=${CARGO:-cargo}
SERVER_FLAGS=${SERVER_FLAGS:---no-default-features}
DIST=${DIST:-dist}
CROSS_TEST_FILTER=${CROSS_TEST_FILTER:-core_}

say() { printf 'cross: %s\n' "$*" >&2; }
dist_name() {
    local prefix=lanchat
    [ "${2:-plain}" = tls ] && prefix=lanchat-tls
    printf '%s-%s\n' "$prefix" "$(printf '%s' "$1" | sed 's/-unknown-/-/; s/^arm-/armv6-/')"
}

qemu_for() {
    case $1 in
        aarch64-*) echo "qemu-aarch64 -cpu cortex-a53" ;; # Pi 3 / Zero 2 W: the oldest 64-bit Pi
        armv7-*) echo "qemu-arm -cpu cortex-a7" ;;        # Pi 2
        arm-*) echo "qemu-arm -cpu arm1176" ;;            # Pi 1 / Zero W: ARMv6
        *) say "no qemu CPU known for $1"; return 1 ;;
    esac
}

# Without the integration tests, at least start the server under the CPU
# model: a bad instruction or a broken static link shows up at once.
smoke() {
    local qemu=$1 bin=$2 data rc=0
    data=$(mktemp -d)
    # shellcheck disable=SC2086
    timeout 3 $qemu "$bin" --serve --bind 127.0.0.1 --port 0 --discovery-port 0 --data-dir "$data" >/dev/null 2>&1 || rc=$?
    rm -rf "$data"
    # 124: still serving after 3 s, which is what a server should do.
    case $rc in
        0 | 124) say "smoke ok: $qemu $bin (exit $rc)" ;;
        *) say "FAIL: $qemu $bin exited $rc"; return 1 ;;
    esac
}

fail=0
for target in "$@"; do
    bin=$(pwd)/$DIST/$(dist_name "$target")
    [ -x "$bin" ] || { say "FAIL: $bin missing: run make cross"; fail=1; continue; }
    qemu=$(qemu_for "$target")
    smoke "$qemu" "$bin" || { fail=1; continue; }
    if [ -f tests/server.rs ]; then
        say "LANCHAT_SERVER=\"$qemu $bin\" cargo test $SERVER_FLAGS --test server $CROSS_TEST_FILTER"
        start=$(date +%s)
        LANCHAT_SERVER="$qemu $bin" $CARGO test $SERVER_FLAGS --test server "$CROSS_TEST_FILTER" \
            || { say "FAIL: core tests under $qemu"; fail=1; }
        say "$target: tests took $(($(date +%s) - start)) s"
    else
        say "SKIP: tests/server.rs does not exist yet; ran only the smoke test for $target"
    fi
    tls_bin=$(pwd)/$DIST/$(dist_name "$target" tls)
    if [ -x "$tls_bin" ]; then
        smoke "$qemu" "$tls_bin" || { fail=1; continue; }
        say "LANCHAT_SERVER=\"$qemu $tls_bin\" cargo test $SERVER_FLAGS --features tls --test tls a_tls_client"
        LANCHAT_SERVER="$qemu $tls_bin" $CARGO test $SERVER_FLAGS --features tls --test tls a_tls_client \
            || { say "FAIL: TLS test under $qemu"; fail=1; }
    fi
done
exit $fail
