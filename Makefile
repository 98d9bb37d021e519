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

# --- fuzzing ---
# `make fuzz` runs each libFuzzer target for FUZZ_SECONDS (default 60), one
# at a time and niced. fuzz/ is its own crate with its own Cargo.lock; the
# seeds in fuzz/seeds/ are read-only input, new finds go to fuzz/corpus/
# (ignored by git) and crashes to fuzz/artifacts/. `cargo test` replays the
# seeds through the same checks (tests/fuzz_corpus.rs).
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := line tags canvas journal

.PHONY: fuzz fuzz-tools

fuzz-tools:
	@$(APT_INSTALL) build-essential
	@rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
	@command -v cargo-fuzz >/dev/null 2>&1 || $(CARGO) install --locked cargo-fuzz

fuzz: fuzz-tools
	@for t in $(FUZZ_TARGETS); do \
		mkdir -p fuzz/corpus/$$t && \
		echo "fuzz: $$t for $(FUZZ_SECONDS)s" && \
		TMPDIR=$${FUZZ_TMPDIR:-/dev/shm} nice -n 10 $(CARGO) +nightly fuzz run -O $$t fuzz/corpus/$$t fuzz/seeds/$$t -- \
			-max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 || exit 1; \
	done
