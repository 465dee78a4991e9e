# SPDX-License-Identifier: GPL-2.0
#
# refcache top-level Makefile.
#   make            build kmod/refcache.ko (against KDIR), the library and CLI
#   make install    modules_install, the udev rule, the library, CLI and man pages
#                   (DESTDIR=, PREFIX=/usr/local; INSTALL_MOD_PATH= for the module)
#   make modules_install   kmod/refcache.ko into /lib/modules/KERNELRELEASE/extra,
#                   then depmod (KDIR=, INSTALL_MOD_PATH=)
#   make dkms       copy the module's source to /usr/src/refcache-VERSION and
#                   dkms install it (rebuilt for each new kernel)
#   make uninstall  remove what make install installed
#   make demo       install what the demo needs, build, boot qemu and show the module working
#   make check      every test and static check; ends with "N passed, N failed"
#   make native     kmod/'s core and the KUnit cases in user space: -O2, ASan+UBSan, TSan
#   make bench      benchmarks in one boot of the distribution kernel
#   make fuzz       the fuzz target alone for long (SEED= OPS= SECS=), debug kernel
#   make vm-one ARGS="--distro --tests object_test"   one boot, chosen suites
#   make KDIR=...   build the module against any kernel tree

DEB612_HDRS := $(lastword $(sort $(wildcard /usr/src/linux-headers-6.12*-amd64)))
RUNNING_KDIR := /lib/modules/$(shell uname -r)/build
KDIR ?= $(if $(wildcard $(RUNNING_KDIR)/Makefile),$(RUNNING_KDIR),$(DEB612_HDRS))

VERSION := $(shell scripts/version.sh)
DKMS_SRC := $(DESTDIR)/usr/src/refcache-$(VERSION)
UDEVDIR ?= /lib/udev/rules.d

.PHONY: all modules userspace deps demo check native bench fuzz vm-one clean help \
	install uninstall uninstall-udev modules_install dkms-source dkms dkms-remove udev_install

all: modules userspace

# Only refcache.ko: the test modules are built by scripts/build-kmod.sh.
modules:
	@test -n "$(KDIR)" || { echo "no kernel tree: run scripts/install-deps.sh or pass KDIR=" >&2; exit 1; }
	$(MAKE) -C $(KDIR) M=$(CURDIR)/kmod modules

# The release the tree was built for, as uname -r says it (Debian's 6.1
# headers give another string in include/config/kernel.release).
KRELEASE = $(shell sed -n 's/^\#define UTS_RELEASE "\(.*\)"/\1/p' $(KDIR)/include/generated/utsrelease.h)

# Kbuild installs into $(INSTALL_MOD_PATH)/lib/modules/KRELEASE/ (extra/,
# or updates/ with Debian's headers; compressed and signed as the kernel's
# configuration says), then depmod indexes it, so that "modprobe refcache"
# works and opening /dev/refcache loads the module (its devname: and
# char-major-10-250 aliases).
modules_install: modules
	$(MAKE) -C $(KDIR) M=$(CURDIR)/kmod KERNELRELEASE=$(KRELEASE) modules_install
	depmod -b $(or $(INSTALL_MOD_PATH),/) $(KRELEASE)

udev_install:
	install -D -m 644 udev/60-refcache.rules $(DESTDIR)$(UDEVDIR)/60-refcache.rules

install: modules_install udev_install
	$(MAKE) -C userspace install

uninstall-udev:
	rm -f $(DESTDIR)$(UDEVDIR)/60-refcache.rules

uninstall: uninstall-udev
	rm -f $(INSTALL_MOD_PATH)/lib/modules/$(KRELEASE)/*/refcache.ko*
	depmod -b $(or $(INSTALL_MOD_PATH),/) $(KRELEASE)
	$(MAKE) -C userspace uninstall

# The module's source as DKMS wants it; dkms.conf reads the version from
# the uapi header it ships with.
dkms-source:
	rm -rf $(DKMS_SRC)
	install -d $(DKMS_SRC)/kmod $(DKMS_SRC)/uapi/linux
	install -m 644 dkms.conf $(DKMS_SRC)/
	install -m 644 kmod/Kbuild kmod/*.[ch] $(DKMS_SRC)/kmod/
	install -m 644 uapi/linux/refcache.h $(DKMS_SRC)/uapi/linux/

dkms: dkms-source
	dkms install refcache/$(VERSION)

dkms-remove:
	dkms remove refcache/$(VERSION) --all
	rm -rf $(DKMS_SRC)

userspace:
	$(MAKE) -C userspace

deps:
	scripts/install-deps.sh

# make demo needs less than make check: a compiler, the 6.12 headers, qemu.
demo:
	scripts/install-deps.sh --demo
	scripts/demo.sh

check: deps
	scripts/check.sh

# The core natively, in seconds (tests/native/run.sh; GLOB= picks cases).
native: deps
	tests/native/run.sh $(GLOB)

bench: deps
	scripts/bench.sh

# SEED, OPS and SECS replay or bound a run; the seed is printed first.
fuzz: deps
	scripts/fuzz.sh $(if $(SEED),--seed $(SEED)) $(if $(OPS),--ops $(OPS)) \
		$(if $(SECS),--secs $(SECS))

# One boot of one kernel with chosen suites (scripts/vm-one.sh --help).
vm-one: deps
	scripts/vm-one.sh $(ARGS)

clean:
	-$(MAKE) -C $(KDIR) M=$(CURDIR) clean 2>/dev/null
	-$(MAKE) -C $(KDIR) M=$(CURDIR)/kmod clean 2>/dev/null
	-$(MAKE) -C $(KDIR) M=$(CURDIR)/examples/module clean 2>/dev/null
	$(MAKE) -C userspace clean
	rm -rf build

help:
	@sed -n '3,18p' Makefile
