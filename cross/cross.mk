# Cross builds: the headless server as static musl binaries for every
# Raspberry Pi, tested under qemu-user. Included at the end of the top-level
# Makefile, so CARGO, SERVER_FLAGS and APT_INSTALL come from there.
# See cross/README.md.

# aarch64: Pi 3/4/5, Zero 2 W (64-bit OS); armv7: Pi 2/3/4 (32-bit OS);
# arm (ARMv6 + VFP): Pi 1, Zero, Zero W.
CROSS_TARGETS ?= aarch64-unknown-linux-musl armv7-unknown-linux-musleabihf arm-unknown-linux-musleabihf
CROSS_ENV = CARGO="$(CARGO)" SERVER_FLAGS="$(SERVER_FLAGS)"
# Knobs for cross/build.sh, e.g. `make cross CROSS_SMALL=1`.
export CROSS_SMALL CROSS_FORCE_ZIG CROSS_CARGO_ARGS CROSS_NIGHTLY

.PHONY: cross test-cross

# dist/lanchat-<arch>-linux-<abi> plus .sha256 for each target.
cross:
	$(APT_INSTALL) file
	python3 -c 'import venv, ensurepip' 2>/dev/null || $(APT_INSTALL) python3-venv
	$(CROSS_ENV) bash cross/build.sh $(CROSS_TARGETS)

# The server's core_* integration tests against each ARM binary under qemu-user,
# and a TLS client against each TLS build.
test-cross: cross
	$(APT_INSTALL) qemu-user openssl
	$(CROSS_ENV) bash cross/test.sh $(CROSS_TARGETS)

# Optional, not part of `make cross` or `make test`: the FLTK desktop client
# for 64-bit Raspberry Pi OS with a desktop. Adds arm64 as a dpkg foreign
# architecture (once) for the Pi's X11/pango -dev packages.
CROSS_GUI_DEBS = g++-aarch64-linux-gnu binutils-aarch64-linux-gnu pkg-config file \
	libx11-dev:arm64 libxext-dev:arm64 libxft-dev:arm64 libxinerama-dev:arm64 \
	libxcursor-dev:arm64 libxrender-dev:arm64 libxfixes-dev:arm64 \
	libpango1.0-dev:arm64 libcairo2-dev:arm64 libfontconfig-dev:arm64 libglib2.0-dev:arm64

.PHONY: cross-gui
cross-gui:
	dpkg --print-foreign-architectures | grep -qx arm64 || \
		{ $(SUDO) dpkg --add-architecture arm64 && $(SUDO) apt-get update -qq; }
	$(APT_INSTALL) $(CROSS_GUI_DEBS)
	python3 -c 'import venv, ensurepip' 2>/dev/null || $(APT_INSTALL) python3-venv
	CARGO="$(CARGO)" bash cross/build-gui.sh
