# lanchat: every entry point a developer or CI needs. Each target installs
# what it uses, idempotently, so a fresh Debian machine needs nothing else.

CARGO    ?= cargo
SUDO     := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Install Debian packages that are not installed yet; `apt-get update` only when needed.
APT_INSTALL = sh -c 'missing=""; for p in "$$@"; do dpkg -s "$$p" >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	[ -z "$$missing" ] || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; }' apt-install

SERVER_FLAGS := --no-default-features

.PHONY: all build server run test test-server check clean

all: build

# The headless server: the only thing `make run` and the server tests need.
server:
	$(CARGO) build --release $(SERVER_FLAGS)

# Starts the server on its defaults (0.0.0.0:6667, data in the user's state dir).
run: server
	./target/release/lanchat --serve

check:
	$(CARGO) clippy $(SERVER_FLAGS) --all-targets -- -D warnings

# Server unit and integration tests against the binary just built.
test-server:
	$(CARGO) test $(SERVER_FLAGS)

test: test-server

clean:
	$(CARGO) clean
	rm -rf dist

# --- benchmarks ---
# `make bench`: lanchat alone, scenarios 1-5 (see docs/PERFORMANCE.md).
# `make bench PEER=inspircd` or `PEER=ngircd`: scenarios 1-3 against that
# server too (A B A B), with the ratio lanchat/peer. The peer is installed
# from Debian, any service the package started is stopped and disabled, and
# the bench starts it by hand on 127.0.0.1 with its own config in a temp dir
# and stops it by its pid. Everything stays on loopback. Not part of `make test`.
PEER ?=
BENCH_ROUNDS ?= 2

.PHONY: bench bench-peer

bench: bench-peer
	$(CARGO) build --release $(SERVER_FLAGS) --bin lanchat --example loadgen --example bench
	nice -n 10 ./target/release/examples/bench --lanchat ./target/release/lanchat --rounds $(BENCH_ROUNDS) $(if $(PEER),--peer $(PEER))

bench-peer:
ifneq ($(PEER),)
	@case "$(PEER)" in inspircd|ngircd) ;; *) echo "PEER must be inspircd or ngircd" >&2; exit 2;; esac
	$(APT_INSTALL) $(PEER)
	-@if command -v systemctl >/dev/null 2>&1; then $(SUDO) systemctl stop $(PEER) >/dev/null 2>&1; $(SUDO) systemctl disable $(PEER) >/dev/null 2>&1; fi
	-@if pgrep -x $(PEER) >/dev/null; then $(SUDO) service $(PEER) stop >/dev/null 2>&1 || true; fi
	@if pgrep -x $(PEER) >/dev/null; then echo "a $(PEER) service is still running (pids: $$(pgrep -x $(PEER) | tr '\n' ' ')): stop it first" >&2; exit 1; fi
endif
