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

test: test-server test-cross

clean:
	$(CARGO) clean
	rm -rf dist
include cross/cross.mk
