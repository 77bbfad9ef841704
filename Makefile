# sm-clusterstack: `make run` (the main job) and `make test` (what CI checks).
# Both create .venv and install what they need, Debian packages included.

PYTHON ?= python3
# The control domain's interpreter, for `make compat` and the RPM test: pyenv's 3.6 where present.
PYTHON36 ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.6*/bin/python3.6) python3.6)
CONSTRAINTS = constraints.txt
PIP_INSTALL = -m pip install -q -c $(CURDIR)/$(CONSTRAINTS)
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed
NEEDED_TOOLS = corosync mkfs.ocfs2 pvcreate ip losetup iptables node npm
DESTDIR ?=
SM_DIR  ?= /opt/xensource/sm
STACK_ROOT ?= /usr/libexec/xapi/cluster-stack
# `make install` installs for the system interpreter, the one named in the
# installed drivers' and stack scripts' #! lines (never .venv's).
INSTALL_PYTHON ?= /usr/bin/python3
_SYSCONFIG = $(shell $(INSTALL_PYTHON) -c 'import sysconfig; print(sysconfig.get_paths()["$(1)"])' 2>/dev/null)
SITELIB ?= $(call _SYSCONFIG,purelib)
BINDIR  ?= $(call _SYSCONFIG,scripts)
UNITDIR ?= /usr/lib/systemd/system
LOGROTATEDIR ?= /etc/logrotate.d
# <prefix>/share/man for the prefix of BINDIR (/usr/bin: /usr/share/man)
MANDIR  ?= $(patsubst %/bin,%,$(BINDIR))/share/man
export PATH := $(CURDIR)/$(BIN):$(PATH):/usr/sbin:/sbin

PY_SOURCES = setup.py sm_clusterstack tests packaging $(wildcard bench/*.py)
DRIVERS    = $(wildcard drivers/*SR)
STACK_SCRIPTS = $(shell grep -l -s '^\#!.*python' libexec/xapi/cluster-stack/*/* bench/* 2>/dev/null)

XHA_SRC ?=
XHA_BUILD = build/xha
XHA_STACK = $(XHA_BUILD)/cluster-stack/xhad

.PHONY: FORCE all path check compat venv36 py36 deps perms run test lint vermin pytest unit functional bench install rpm clean xhad xo

all: test

deps: $(STAMP)

# Re-install when the stamp is older than its inputs, or when the venv lost the
# package or a Debian tool went missing since.
$(STAMP): setup.py .ci/install-deps $(CONSTRAINTS) $(if $(wildcard $(BIN)/sm-clusterstack),,FORCE) \
          $(if $(shell for t in $(NEEDED_TOOLS); do command -v $$t || echo missing; done | grep -x missing),FORCE)
	sh .ci/install-deps
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python $(PIP_INSTALL) lxml XenAPI pytest pytest-xdist mock flake8 vermin
	$(BIN)/python $(PIP_INSTALL) --no-deps -e .
	touch $@

# The cluster-stack safety check (xapi's too) refuses a stack writable by group
# or others: a checkout made under a permissive umask would be refused.
perms:
	chmod -R go-w libexec drivers

# make run checks the shipped drivers and stacks; with the real xhad's sources beside the project (or
# XHA_SRC), it builds xhad first and checks the real xhad in place of the shipped xhad wrappers, which
# without xhad at /opt/xensource/xha can only SKIP (both layouts of the wrappers: tests/functional).
RUN_XHA_SRC = $(or $(XHA_SRC),$(wildcard ../shared/thirdparty/xha))
run: deps perms
	@if [ -n "$(RUN_XHA_SRC)" ] && [ ! -x $(XHA_STACK)/xhad ]; then $(MAKE) --no-print-directory xhad XHA_SRC=$(RUN_XHA_SRC); fi
	$(BIN)/sm-clusterstack kit --ha-timeout 10 $(foreach d,$(DRIVERS),driver $(d)) $(call kit_stacks,libexec/xapi/cluster-stack)
	@echo 'make run: the command is $(CURDIR)/$(BIN)/sm-clusterstack; put it on PATH: eval "$$(make -s path)"'

# The line that puts .venv's sm-clusterstack first on a shell's PATH: eval "$(make -s path)"
path:
	@test -x $(BIN)/sm-clusterstack || echo "make path: no $(BIN)/sm-clusterstack yet: run make deps" >&2
	@echo 'export PATH="$(CURDIR)/$(BIN):$$PATH"'

# The kit's `stack` targets for the stacks under $(1), the real xhad (when built) in place of the xhad wrappers.
kit_stacks = $$(for s in $(1)/*; do if [ "$${s\#\#*/}" = xhad ] && [ -x $(XHA_STACK)/xhad ]; then s=$(XHA_STACK); fi; \
	echo stack $$s; done)

test: lint vermin $(if $(XHA_SRC),xhad) pytest

# The real xhad (xenserver/xha) for the tests and the kit: XHA_SRC is a source tree
# (git clone https://github.com/xenserver/xha); its build deps come from Debian.
xhad:
	@test -n "$(XHA_SRC)" || { echo "make xhad: give XHA_SRC=DIR, an xha source tree" \
	    "(git clone https://github.com/xenserver/xha)" >&2; exit 2; }
	XHA=1 sh .ci/install-deps
	sh .ci/build-xha "$(XHA_SRC)" "$(XHA_BUILD)"

lint: deps
	$(BIN)/flake8 $(PY_SOURCES) $(DRIVERS) $(STACK_SCRIPTS)

vermin: deps
	$(BIN)/vermin -q --no-tips --eval-annotations --violations -t=3.6- \
	    sm_clusterstack packaging $(DRIVERS) $(STACK_SCRIPTS)

# pytest in two runs (tests/conftest.py): every test not marked `alone` side by side in TEST_WORKERS
# processes (most of a functional test is waiting on a daemon's timeout: more workers than cores),
# then the `alone` ones one at a time; either failing fails.  An empty `alone` run (pytest's exit 5)
# is not a failure, an empty parallel run is.  Then the 15 slowest tests of both runs.
TEST_WORKERS ?= 8
RESULTS = build/test-results
PYTEST_PARALLEL = $(BIN)/python -m pytest -q -p xdist -n $(TEST_WORKERS) --dist worksteal
pytest: deps perms py36 xo
	@rm -rf $(RESULTS) && mkdir -p $(RESULTS)
	@$(PYTEST_PARALLEL) -m "not alone" --junitxml=$(RESULTS)/parallel.xml tests; parallel=$$?; \
	$(BIN)/python -m pytest -q -p no:xdist -m alone --junitxml=$(RESULTS)/alone.xml tests; alone=$$?; \
	[ $$alone -eq 5 ] && alone=0; \
	[ $$parallel -eq 0 ] && [ $$alone -eq 0 ] || echo "pytest: the parallel run exited $$parallel, the alone run $$alone"; \
	$(BIN)/python tests/slowest.py 15 $(RESULTS)/parallel.xml $(RESULTS)/alone.xml; \
	[ $$parallel -eq 0 ] && [ $$alone -eq 0 ]

# The edit loop: the unit tests and the functional tests that run no real daemon (not `slow`), side by side.
check: deps perms
	$(PYTEST_PARALLEL) -m "not slow and not alone" tests

# Xen Orchestra's XenAPI client (npm xen-api) for tests/functional/test_xo_client.py, as
# tests/xo/package-lock.json pins it; node and npm are Debian's (.ci/install-deps).
XO_STAMP = tests/xo/node_modules/.package-lock.json
xo: $(XO_STAMP)
$(XO_STAMP): tests/xo/package.json tests/xo/package-lock.json
	cd tests/xo && npm ci --no-audit --no-fund --loglevel=error

unit: deps
	$(BIN)/python -m pytest -q tests/unit

functional: deps perms py36 xo
	$(PYTEST_PARALLEL) -m "not alone" tests/functional
	$(BIN)/python -m pytest -q -p no:xdist -m alone tests/functional || [ $$? -eq 5 ]

bench: deps
	@for b in bench/*; do [ -f "$$b" ] && [ -x "$$b" ] && echo "== $$b" && $(BIN)/python "$$b"; done

# The control domain's interpreter: `make run`'s kit, under Python 3.6 as a dom0 runs it (the py36
# tree: PATH only, no PYTHONPATH), when one is installed (vermin checks the syntax in `test`).
compat: deps py36
	@if [ ! -x $(PY36_TREE)/bin/sm-clusterstack ]; then \
	    echo "compat: no working Python 3.6 ($(PYTHON36)); set PYTHON36=/path/to/python3.6"; exit 0; fi; \
	if [ -n "$(RUN_XHA_SRC)" ] && [ ! -x $(XHA_STACK)/xhad ]; then $(MAKE) --no-print-directory xhad XHA_SRC=$(RUN_XHA_SRC); fi; \
	env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin $(PY36_TREE)/bin/sm-clusterstack kit \
	    --ha-timeout 10 $$(for d in $(PY36_TREE)/sm/*SR; do echo driver $$d; done) $(call kit_stacks,$(PY36_TREE)/cluster-stack)

# sm-clusterstack for the control domain's interpreter, installed as the RPM installs it
# (packaging/install_tree.py): the package into .venv36's site-packages, the command, drivers and
# stacks into $(PY36_TREE), their #! lines naming .venv36's python.  Re-installed on every run: it
# is a copy of the working tree.  The tests run the kit and the HA scenarios from it.
PY36_TREE = build/py36
PY36_SITELIB = $$(.venv36/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
py36: venv36
	@if .venv36/bin/python -c 'import sys, lxml, XenAPI; assert sys.version_info[:2] == (3, 6)' 2>/dev/null; then \
	    rm -rf $(PY36_TREE) && .venv36/bin/python packaging/install_tree.py --python $(CURDIR)/.venv36/bin/python \
	        --sitelib $(PY36_SITELIB) --bindir $(CURDIR)/$(PY36_TREE)/bin --sm-dir $(CURDIR)/$(PY36_TREE)/sm \
	        --stack-root $(CURDIR)/$(PY36_TREE)/cluster-stack >/dev/null && chmod -R go-w $(PY36_TREE) \
	    && echo "py36: installed for $$(.venv36/bin/python -V 2>&1) in $(PY36_TREE)"; \
	else rm -rf $(PY36_TREE); echo "py36: no Python 3.6 with lxml and XenAPI: the tests under 3.6 skip and say so"; fi

# A Python 3.6 venv with the pinned runtime dependencies (make compat, the RPM test).
venv36:
	@if $(PYTHON36) -c 'import sys; assert sys.version_info[:2] == (3, 6)' >/dev/null 2>&1; then \
	    test -x .venv36/bin/python || $(PYTHON36) -m venv .venv36; \
	    .venv36/bin/python -c 'import lxml, XenAPI' 2>/dev/null || .venv36/bin/python $(PIP_INSTALL) lxml XenAPI \
	        || echo "venv36: could not install lxml and XenAPI for Python 3.6 (the RPM test says what it skips)"; \
	else echo "venv36: no Python 3.6 ($(PYTHON36)); the RPM test will run under $(INSTALL_PYTHON)"; fi

# For the system interpreter ($(INSTALL_PYTHON)), never .venv: the installed
# drivers and stack scripts name it in their #! line.  A real install (no
# DESTDIR) first installs what that interpreter lacks of lxml and XenAPI.
install:
	@$(INSTALL_PYTHON) -c 'import sys; assert sys.version_info >= (3, 6)' 2>/dev/null || { \
	    echo "make install: $(INSTALL_PYTHON) is not a Python 3.6+; set INSTALL_PYTHON=/path/to/python3" >&2; exit 1; }
	@echo "make install: for $(INSTALL_PYTHON) ($$($(INSTALL_PYTHON) -V 2>&1)); .venv is left alone"
	$(if $(filter-out /,$(DESTDIR)),,sh .ci/install-deps --runtime $(INSTALL_PYTHON))
	$(INSTALL_PYTHON) packaging/install_tree.py --destdir "$(DESTDIR)" --python "$(INSTALL_PYTHON)" \
	    --sitelib "$(SITELIB)" --bindir "$(BINDIR)" --sm-dir "$(SM_DIR)" --stack-root "$(STACK_ROOT)" \
	    --unitdir "$(UNITDIR)" --logrotatedir "$(LOGROTATEDIR)" \
	    --mandir "$(MANDIR)" $(if $(NO_COMPILE),--no-compile)

# A noarch RPM for a dom0 (packaging/sm-clusterstack.spec) from the working tree.
VERSION = $(shell sed -n 's/^__version__ = "\(.*\)"/\1/p' sm_clusterstack/__init__.py)
RPM_TOPDIR ?= $(CURDIR)/build/rpm
RPMBUILD_FLAGS ?=
rpm:
	@command -v rpmbuild >/dev/null || { echo "make rpm: no rpmbuild (sh .ci/install-deps installs it)" >&2; exit 1; }
	rm -rf "$(RPM_TOPDIR)"
	mkdir -p "$(RPM_TOPDIR)/SOURCES" "$(RPM_TOPDIR)/BUILD" "$(RPM_TOPDIR)/RPMS" "$(RPM_TOPDIR)/SRPMS"
	tar -czf "$(RPM_TOPDIR)/SOURCES/sm-clusterstack-$(VERSION).tar.gz" --transform 's,^\.,sm-clusterstack-$(VERSION),' \
	    --exclude=./.git --exclude='./.venv*' --exclude=./build --exclude=./tests/xo/node_modules --exclude=__pycache__ --exclude=.pytest_cache .
	rpmbuild -bb --define "_topdir $(RPM_TOPDIR)" --define "version $(VERSION)" $(RPMBUILD_FLAGS) \
	    packaging/sm-clusterstack.spec
	@ls "$(RPM_TOPDIR)"/RPMS/noarch/*.rpm

clean:
	rm -rf $(VENV) .venv36 build dist *.egg-info .pytest_cache tests/xo/node_modules  # build/ holds build/xha too
	find . -name __pycache__ -prune -exec rm -rf {} +

FORCE:
