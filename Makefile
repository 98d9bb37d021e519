# lanchat: every entry point a developer or CI needs. Each target installs
# what it uses, idempotently, so a fresh Debian machine needs nothing else.

CARGO    ?= cargo
SUDO     := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Install Debian packages that are not installed yet; `apt-get update` only when needed.
APT_INSTALL = sh -c 'missing=""; for p in "$$@"; do dpkg -s "$$p" >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	[ -z "$$missing" ] || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; }' apt-install
# Add a rustup target unless it is there already.
RUST_TARGET = sh -c 'rustup target list --installed | grep -qx "$$0" || rustup target add "$$0"'

# The headless server: no GUI, one static musl binary.
SERVER_FLAGS  := --no-default-features
SERVER_TARGET := x86_64-unknown-linux-musl
SERVER_BIN    := target/$(SERVER_TARGET)/release/lanchat

.PHONY: all server run test test-server test-static deps-rust deps-peers check clean

all: server

# What this Makefile cannot install is Rust itself (rustup; README.md,
# "Prerequisites"), so it checks the version up front instead of failing
# later on a let-chain. It does install a C linker, rustfmt and clippy.
RUST_MIN := $(shell sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)

deps-rust:
	@$(APT_INSTALL) gcc libc6-dev
	@v=$$(rustc --version | cut -d' ' -f2); printf '%s\n%s\n' "$(RUST_MIN)" "$$v" | sort -V -C || \
		{ echo "Rust $$v is older than $(RUST_MIN), the minimum (rust-version in Cargo.toml): rustup update" >&2; exit 1; }
	@$(CARGO) fmt --version >/dev/null 2>&1 || rustup component add rustfmt
	@$(CARGO) clippy --version >/dev/null 2>&1 || rustup component add clippy

server: deps-rust
	@$(RUST_TARGET) $(SERVER_TARGET)
	$(CARGO) build --release $(SERVER_FLAGS) --target $(SERVER_TARGET)

# The server on its defaults: 0.0.0.0:6667, history in ~/.local/state/lanchat.
run: server
	$(SERVER_BIN) --serve

check: deps-rust deps-gui
	$(CARGO) fmt --check
	$(CARGO) clippy $(SERVER_FLAGS) --all-targets -- -D warnings
	$(CARGO) clippy $(SERVER_FLAGS) --features tls --all-targets -- -D warnings
	$(GUI_PATH) $(CARGO) clippy --all-targets -- -D warnings

# Another IRC server for the client to join: installed from Debian, but only
# ever run by the tests themselves, on loopback. A service the package may
# have started is stopped and disabled.
deps-peers:
	@$(APT_INSTALL) inspircd
	@if pgrep -x inspircd >/dev/null && [ -e /run/inspircd/inspircd.pid ]; then \
		($(SUDO) systemctl disable --now inspircd || $(SUDO) service inspircd stop) >/dev/null 2>&1 || true; fi

# Unit tests, the parser vectors, the server, the line-mode client and the
# client connection (against lanchat and InspIRCd), all over loopback.
# Then the hardening tests a plain `cargo test` ignores: they mount tmpfs
# file systems (root, as in CI), lower a limit with prlimit and make a
# network namespace with a veth pair (ip, iproute2); here they must pass.
# tests/bursts.rs reads the listen queue's drops with ss (iproute2 too).
test-server: deps-rust deps-peers
	@$(APT_INSTALL) mount util-linux iproute2 openssl
	$(CARGO) test $(SERVER_FLAGS)
	$(CARGO) test $(SERVER_FLAGS) --test hardening -- --ignored
	$(CARGO) test $(SERVER_FLAGS) --test files -- --ignored
	# IRC over TLS (the headless server with the tls feature), against openssl s_client.
	$(CARGO) test $(SERVER_FLAGS) --features tls --lib --test tls

# The headless build really is one static binary.
test-static: server
	@$(APT_INSTALL) file
	file $(SERVER_BIN) | grep -q 'static' || { file $(SERVER_BIN); echo "not statically linked"; exit 1; }
	@echo "static: $(SERVER_BIN) $$(stat -c %s $(SERVER_BIN)) bytes"

test: test-server test-static test-cross test-gui test-web

clean:
	$(CARGO) clean
	rm -rf dist

# Cross-building for the Pi: make cross, make test-cross, make cross-gui.
include cross/cross.mk

# The web page in a real browser (issue 13): headless Chromium from Debian,
# driven by selenium and chromedriver with Debian's own Python, against the
# server on loopback; screenshots land in target/web-phone.png and
# target/web-desktop.png.
WEB_TEST_DEPS := chromium chromium-driver python3-selenium

.PHONY: test-web
test-web: deps-rust
	@$(APT_INSTALL) $(WEB_TEST_DEPS)
	$(CARGO) build $(SERVER_FLAGS) --bin lanchat
	/usr/bin/python3 tests/browser/page.py target/debug/lanchat target

# --- benchmarks ---
# `make bench`: scenarios 1-5 and 7-10 against lanchat alone, then scenario 6,
# the desktop client's figures (`bench-gui`); see docs/PERFORMANCE.md.
# `make bench PEER=inspircd` or `PEER=ngircd`: scenarios 1-3 and 9 against that
# server too (A B A B), with the ratio lanchat/peer. The peer is installed
# from Debian, any service the package started is stopped and disabled, and
# the bench starts it by hand on 127.0.0.1 with its own config in a temp dir
# and stops it by its pid. Everything stays on loopback. Not part of `make test`.
# `ONLY=1,2` runs just those scenarios (quicker while working on one).
PEER ?=
ONLY ?=
BENCH_ROUNDS ?= 2
BENCH_GUI := $(if $(ONLY),$(findstring 6,$(ONLY)),6)

.PHONY: bench bench-server bench-peer bench-callgrind

bench: bench-server $(if $(BENCH_GUI),bench-gui)

bench-server: deps-rust bench-peer
	$(CARGO) build --release $(SERVER_FLAGS) --features tls --bin lanchat --example loadgen --example bench --example canvas_load
	nice -n 10 ./target/release/examples/bench --lanchat ./target/release/lanchat --rounds $(BENCH_ROUNDS) $(if $(PEER),--peer $(PEER)) $(if $(ONLY),--only $(ONLY))

# The server's instructions per delivery under callgrind (valgrind), scenario 2
# on the plain, TLS and WebSocket paths: deterministic where timings are not.
# `ONLY=2w` for one path; BENCH_ROUNDS rounds of two runs each.
bench-callgrind: deps-rust
	@$(APT_INSTALL) valgrind
	$(CARGO) build --release $(SERVER_FLAGS) --features tls --bin lanchat --example loadgen --example bench
	nice -n 10 ./target/release/examples/bench --lanchat ./target/release/lanchat --callgrind --rounds $(BENCH_ROUNDS) $(if $(ONLY),--only $(ONLY))

bench-peer:
ifneq ($(PEER),)
	@case "$(PEER)" in inspircd|ngircd) ;; *) echo "PEER must be inspircd or ngircd" >&2; exit 2;; esac
	$(APT_INSTALL) $(PEER)
	-@if command -v systemctl >/dev/null 2>&1; then $(SUDO) systemctl stop $(PEER) >/dev/null 2>&1; $(SUDO) systemctl disable $(PEER) >/dev/null 2>&1; fi
	-@if pgrep -x $(PEER) >/dev/null; then $(SUDO) service $(PEER) stop >/dev/null 2>&1 || true; fi
	@if pgrep -x $(PEER) >/dev/null; then echo "a $(PEER) service is still running (pids: $$(pgrep -x $(PEER) | tr '\n' ' ')): stop it first" >&2; exit 1; fi
endif

# ---- GUI: the FLTK desktop client (issue 3) ---------------------------------
# fltk-sys builds FLTK from source (never a prebuilt `fltk-bundled`) with CMake
# 3.28 or newer, newer than Debian 12's: a private venv under target/tools gets
# it from PyPI. libpango1.0-dev brings cairo, Xft, fontconfig, X11 and
# pkg-config with it; the other X libraries are the ones fltk-sys links.
GUI_VENV      := $(CURDIR)/target/tools/venv
GUI_PATH      := PATH="$(GUI_VENV)/bin:$$PATH"
GUI_DEPS      := g++ make python3-venv libpango1.0-dev libxext-dev libxinerama-dev libxcursor-dev libxfixes-dev
# A real X server, real input events, a screenshot, a colour emoji font, and
# a real notification daemon (dunst on a private D-Bus session bus; dunstctl
# asks it through dbus-send) for the client's notify-send to deliver to;
# GTK, whose file chooser the window then uses (as on a desktop), and
# python3-gi for the GTK drag source that drops files on a window.
GUI_TEST_DEPS := xvfb xauth xdotool x11-utils imagemagick fonts-noto-color-emoji \
                 dunst dbus-daemon dbus-bin libnotify-bin \
                 libgtk-3-0 python3-gi gir1.2-gtk-3.0

.PHONY: deps-gui gui test-gui bench-gui screenshots

deps-gui: deps-rust
	@$(APT_INSTALL) $(GUI_DEPS)
	@$(GUI_VENV)/bin/cmake --version >/dev/null 2>&1 || { \
		/usr/bin/python3 -m venv "$(GUI_VENV)" && "$(GUI_VENV)/bin/pip" install -q 'cmake>=3.28'; }

# The desktop client (`lanchat --client`), size-tuned release build.
gui: deps-gui
	$(GUI_PATH) $(CARGO) build --release
	@echo "gui: target/release/lanchat $$(stat -c %s target/release/lanchat) bytes"

# Unit tests (config, emoticons, canvas raster, log) and the GUI driven under
# Xvfb with xdotool against a real server on loopback; the screenshot lands
# in target/gui-screenshot.png.
test-gui: deps-gui deps-peers
	@$(APT_INSTALL) $(GUI_TEST_DEPS)
	$(GUI_PATH) $(CARGO) test --lib --test gui

# The README's pictures (docs/screenshot-*.png), taken by the GUI test that
# makes them; every other run leaves them in target/ and the tree clean.
screenshots: deps-gui deps-peers
	@$(APT_INSTALL) $(GUI_TEST_DEPS)
	LANCHAT_README_SHOTS=1 $(GUI_PATH) $(CARGO) test --test gui -- channels_attention_presence_typing_and_comforts the_connect_dialog_lists_servers_found_on_the_lan

# Scrolling a 100,000-line log and redrawing 10,000 strokes, in a real window.
bench-gui: deps-gui
	@$(APT_INSTALL) $(GUI_TEST_DEPS)
	$(GUI_PATH) $(CARGO) build --release --example gui_bench
	xvfb-run -a -s "-screen 0 1400x800x24 -nolisten tcp" target/release/examples/gui_bench

# --- fuzzing ---
# `make fuzz` runs each libFuzzer target for FUZZ_SECONDS (default 60), one
# at a time and niced. fuzz/ is its own crate with its own Cargo.lock; the
# seeds in fuzz/seeds/ are read-only input, new finds go to fuzz/corpus/
# (ignored by git) and crashes to fuzz/artifacts/. `cargo test` replays the
# seeds through the same checks (tests/fuzz_corpus.rs).
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := line tags canvas journal commands http websocket

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
