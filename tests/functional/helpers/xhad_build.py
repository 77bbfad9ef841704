"""Building the real xhad (xenserver/xha) for the tests, in a copy of its tree.

The source is ``shared/thirdparty/xha`` above the clone (or $XHA_SRC); it
is GPL and read-only: it is copied, built with ``make CFLAGS=-DWD_IGNORE``
(a self-fence is then ``abort()`` of xhad, no Xen watchdog needed) and
installed with ``DESTDIR``.  Two builds:

- ``modern``: as xha ships, everything in /usr/libexec/xapi/cluster-stack/xhad
  (the layout after ``sm-clusterstack upgrade``, and the coordinator's
  ``make xhad``);
- ``legacy``: the same tools built for the legacy directory
  /opt/xensource/xha (their scripts source /opt/xensource/xha/ha_rc), as a
  host had them before the cluster-stack root existed.
"""

import os
import shutil

from sm_clusterstack import runner

from helpers.kit import thirdparty_dir

MODERN_DIR = "/usr/libexec/xapi/cluster-stack/xhad"
LEGACY_DIR = "/opt/xensource/xha"
BUILD_TIMEOUT = 600.0
NEEDED = ("make", "gcc", "gawk")
HEADERS = ("/usr/include/libxml2/libxml/parser.h", "/usr/include/xenctrl.h")


def source_dir():
    """The xha source tree, or None."""
    found = os.environ.get("XHA_SRC") or os.path.join(thirdparty_dir() or "", "xha")
    return found if os.path.isfile(os.path.join(found, "Makefile")) else None


def skip_reason():
    """Why xhad cannot be built here ("" when it can)."""
    if source_dir() is None:
        return "the xha source is not here (no shared/thirdparty/xha above the clone, no $XHA_SRC)"
    for tool in NEEDED:
        if shutil.which(tool) is None:
            return "building xhad needs %s (Debian: gcc make gawk libxml2-dev libxen-dev)" % tool
    for header in HEADERS:
        if not os.path.exists(header):
            return "building xhad needs %s (Debian: libxml2-dev libxen-dev)" % header
    return ""


def build(work, layout):
    """Build xha for ``layout`` ("modern" or "legacy") under ``work``; the installed tools' directory."""
    tree = os.path.join(work, "src-" + layout)
    dest = os.path.join(work, "dest-" + layout)
    shutil.copytree(source_dir(), tree, symlinks=True)
    target = MODERN_DIR if layout == "modern" else LEGACY_DIR
    if layout == "legacy":
        _relocate(tree, target)
    for argv in (["make", "CFLAGS=-DWD_IGNORE"], ["make", "install", "DESTDIR=" + dest]):
        result = runner.run(argv, timeout=BUILD_TIMEOUT, cwd=tree)
        assert result.ok, "xha %s: %s" % (" ".join(argv), result.describe()[-2000:])
    installed = dest + target
    os.chmod(installed, 0o755)
    return installed


def _relocate(tree, target):
    """Point the scripts and the install directory at ``target`` (xha hard-codes MODERN_DIR)."""
    files = [os.path.join(tree, "default-debug.mk")]
    files += [os.path.join(tree, "scripts", name) for name in os.listdir(os.path.join(tree, "scripts"))
              if name.startswith("ha_")]
    for path in files:
        with open(path) as f:
            text = f.read()
        with open(path, "w") as f:
            f.write(text.replace(MODERN_DIR, target))
