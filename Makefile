# sm-clusterstack: `make run` (the main job) and `make test` (what CI checks).
# Both create .venv and install what they need, Debian packages included.

PYTHON ?= python3
PYTHON36 ?= python3.6
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed
NEEDED_TOOLS = corosync mkfs.ocfs2 pvcreate ip losetup
DESTDIR ?=
SM_DIR  ?= /opt/xensource/sm
STACK_ROOT ?= /usr/libexec/xapi/cluster-stack
export PATH := $(CURDIR)/$(BIN):$(PATH):/usr/sbin:/sbin

PY_SOURCES = setup.py sm_clusterstack tests $(wildcard bench/*.py)
DRIVERS    = $(wildcard drivers/*SR)
STACK_SCRIPTS = $(shell grep -l -s '^\#!.*python' libexec/xapi/cluster-stack/*/* bench/* 2>/dev/null)

XHA_SRC ?=
XHA_BUILD = build/xha
XHA_STACK = $(XHA_BUILD)/cluster-stack/xhad

.PHONY: FORCE all compat deps perms run test lint vermin pytest unit functional bench install clean xhad

all: test

deps: $(STAMP)

# Re-install when the stamp is older than its inputs, or when the venv lost the
# package or a Debian tool went missing since.
$(STAMP): setup.py .ci/install-deps $(if $(wildcard $(BIN)/sm-clusterstack),,FORCE) \
          $(if $(shell for t in $(NEEDED_TOOLS); do command -v $$t || echo missing; done | grep -x missing),FORCE)
	sh .ci/install-deps
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q lxml XenAPI pytest mock flake8 vermin
	$(BIN)/python -m pip install -q -e .
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
	$(BIN)/sm-clusterstack kit --ha-timeout 10 $(foreach d,$(DRIVERS),driver $(d)) \
	    $$(for s in libexec/xapi/cluster-stack/*; do \
	        if [ "$${s##*/}" = xhad ] && [ -x $(XHA_STACK)/xhad ]; then s=$(XHA_STACK); fi; echo stack $$s; done)

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
	    sm_clusterstack $(DRIVERS) $(STACK_SCRIPTS)

pytest: deps perms
	$(BIN)/python -m pytest -q tests

unit: deps
	$(BIN)/python -m pytest -q tests/unit

functional: deps perms
	$(BIN)/python -m pytest -q tests/functional

bench: deps
	@for b in bench/*; do [ -x "$$b" ] && echo "== $$b" && $(BIN)/python "$$b"; done

# The control domain's interpreter: run the whole kit (shim, drivers, stacks)
# under Python 3.6 when one is installed (vermin checks the syntax in `test`).
compat:
	@if ! $(PYTHON36) -c 'import sys; assert sys.version_info[:2] == (3, 6)' >/dev/null 2>&1; then \
	    echo "compat: no working Python 3.6 ($(PYTHON36)); set PYTHON36=/path/to/python3.6"; exit 0; fi; \
	test -x .venv36/bin/python || $(PYTHON36) -m venv .venv36; \
	.venv36/bin/python -m pip install -q "lxml<5" XenAPI; \
	PYTHONPATH=$(CURDIR) .venv36/bin/python -m sm_clusterstack.cli kit \
	    --sm-dir drivers --root libexec/xapi/cluster-stack

install:
	$(PYTHON) -m pip install --no-deps --root "$(if $(DESTDIR),$(DESTDIR),/)" .
	install -d "$(DESTDIR)$(SM_DIR)" "$(DESTDIR)$(STACK_ROOT)"
	@# Our stack was first called `corosync`, a name xapi reserves for xapi-clusterd:
	@# remove that directory when it holds nothing but our old scripts (now corosync-ha/).
	old="$(DESTDIR)$(STACK_ROOT)/corosync"; ours=no; [ -d "$$old" ] && ours=yes; \
	for f in "$$old"/*; do [ -e "$$f" ] || continue; case "$${f##*/}" in ha_supported_srs) ;; \
	    ha_*) grep -qs 'sm_clusterstack.corostack' "$$f" || ours=no ;; *) ours=no ;; esac; done; \
	if [ $$ours = yes ]; then echo "removing $$old: the old name of corosync-ha"; rm -rf "$$old"; fi
	for d in $(DRIVERS); do install -m 0755 "$$d" "$(DESTDIR)$(SM_DIR)/"; done
	for s in libexec/xapi/cluster-stack/*; do \
	    install -d -m 0755 "$(DESTDIR)$(STACK_ROOT)/$$(basename $$s)"; \
	    for f in $$s/*; do \
	        t="$(DESTDIR)$(STACK_ROOT)/$$(basename $$s)/$$(basename $$f)"; \
	        if grep -qs '^# sm-clusterstack: xhad wrapper' "$$f" && [ -e "$$t" ] \
	                && ! grep -qs '^# sm-clusterstack: xhad wrapper' "$$t"; then \
	            echo "keeping $$t: xhad's real tool, moved in by 'sm-clusterstack upgrade'"; continue; \
	        fi; \
	        if [ -x "$$f" ]; then m=0755; else m=0644; fi; \
	        install -m $$m "$$f" "$$t"; \
	    done; \
	done

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache  # build/ holds build/xha too
	find . -name __pycache__ -prune -exec rm -rf {} +

FORCE:
