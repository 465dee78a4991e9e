# SPDX-License-Identifier: GPL-2.0
#
# refcache top-level Makefile.
#   make            build kmod/refcache.ko (against KDIR), the library and CLI
#   make demo       install deps, build, boot qemu and show the module working
#   make check      every test and static check; ends with "N passed, N failed"
#   make native     kmod/'s core and the KUnit cases in user space: -O2, ASan+UBSan, TSan
#   make bench      benchmarks in one boot of the distribution kernel
#   make fuzz       the fuzz target alone for long (SEED= OPS= SECS=), debug kernel
#   make vm-one ARGS="--distro --tests object_test"   one boot, chosen suites
#   make KDIR=...   build the module against any kernel tree

DEB612_HDRS := $(lastword $(sort $(wildcard /usr/src/linux-headers-6.12*-amd64)))
RUNNING_KDIR := /lib/modules/$(shell uname -r)/build
KDIR ?= $(if $(wildcard $(RUNNING_KDIR)/Makefile),$(RUNNING_KDIR),$(DEB612_HDRS))

.PHONY: all modules userspace deps demo check native bench fuzz vm-one clean help

all: modules userspace

modules:
	@test -n "$(KDIR)" || { echo "no kernel tree: run scripts/install-deps.sh or pass KDIR=" >&2; exit 1; }
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

userspace:
	$(MAKE) -C userspace

deps:
	scripts/install-deps.sh

demo: deps
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
	$(MAKE) -C userspace clean
	rm -rf build

help:
	@sed -n '3,11p' Makefile
