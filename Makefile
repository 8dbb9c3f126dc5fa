# The front door. Two commands matter to a newcomer on a fresh Debian 12 machine:
#   make run    install what is missing, build, and run the quickstart
#   make test   install what is missing, build, run every test (GoogleTest, then bats)
# Others: make deps | make (build) | make bench | make install PREFIX=/usr/local | make clean

BUILD   ?= build
# ccache hits across clones in different folders (CI clones afresh each time).
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := 1
PREFIX  ?= /usr/local
JOBS    ?= $(shell nproc)
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# npm ships inside NodeSource's nodejs (which conflicts with Debian's npm); ask for Debian's only
# when no npm is on the PATH. nginx and npm (s3rver) are the peers of bench/walrus.
NPM_PACKAGE := $(shell command -v npm >/dev/null 2>&1 || echo npm)

# Every Debian package the build and the tests need. `make deps` installs the missing ones.
DEB_PACKAGES := \
  build-essential cmake ninja-build pkg-config ccache git \
  libcli11-dev libgit2-dev libsqlite3-dev libssl-dev libcurl4-openssl-dev libarchive-dev \
  libboost-dev libboost-filesystem-dev libvirt-dev libpugixml-dev nlohmann-json3-dev zlib1g-dev libisal-dev libdeflate-dev \
  libgtest-dev libgmock-dev libbenchmark-dev \
  bats bats-assert bats-support parallel sqlite3 openssl unzip procps python3 python3-boto3 curl \
  pigz gzip tar e2fsprogs awscli s3cmd man-db groff-base \
  libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86 qemu-utils \
  linux-image-amd64 busybox-static cpio xz-utils genisoimage syslinux syslinux-common mtools fdisk \
  nginx nodejs $(NPM_PACKAGE) \
  iptables dnsmasq-base

.PHONY: all build deps test unit cli guest run bench install clean

all: build

deps:
	@missing=$$(for p in $(DEB_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing $$missing"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	else echo "make deps: all packages present"; fi

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja

build: $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

# The test guest for the hypervisor end-to-end test (cached in $(BUILD)/guest).
guest: $(BUILD)/build.ninja
	cmake --build $(BUILD) --target guest

unit: build
	cmake --build $(BUILD) --target guest
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

cli: build
	EUCA_BIN=$(CURDIR)/$(BUILD)/euca bats --jobs $(JOBS) tests/cli

test: deps
	$(MAKE) build
	$(MAKE) unit
	$(MAKE) cli

run: deps
	$(MAKE) build
	$(MAKE) guest
	EUCA_BIN=$(CURDIR)/$(BUILD)/euca bash tests/quickstart.sh

bench: deps
	$(MAKE) build
	$(BUILD)/bench_state
	$(BUILD)/bench_bundle
	$(BUILD)/bench_walrus
	$(BUILD)/bench_clc
	$(BUILD)/bench_network
	$(MAKE) guest
	cd $(BUILD) && ./bench_nc

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD)
