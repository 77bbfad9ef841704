"""Install sm-clusterstack for one Python interpreter, under an optional DESTDIR.

``make install`` and the RPM spec both run this (with any Python 3).  What
it installs, all for the interpreter ``--python`` names (the one that runs
the installed scripts, written into their ``#!`` line):

- the ``sm_clusterstack`` package into ``--sitelib`` (replaced whole, so no
  module of an older version is left behind), byte-compiled unless
  ``--no-compile``;
- the ``sm-clusterstack`` command into ``--bindir``;
- ``drivers/*SR`` into ``--sm-dir`` and every stack under
  ``libexec/xapi/cluster-stack`` into ``--stack-root``, their ``#!`` lines
  naming ``--python`` (never ``/usr/bin/env python3``, which would find
  whatever ``python3`` comes first on xapi's PATH);
- with ``--unitdir`` / ``--logrotatedir``, the systemd unit and the
  logrotate file of ``packaging/``;
- with ``--mandir``, the man pages of ``man/`` into its ``man1``/``man7``
  (the section is the page's file name extension).

An xhad tool that ``sm-clusterstack upgrade`` moved into the stack root is
kept: a wrapper of ours only replaces a wrapper of ours.
"""

import argparse
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
WRAPPER_MARK = "# sm-clusterstack: xhad wrapper"
PY_SHEBANGS = ("#!/usr/bin/env python3", "#!/usr/bin/python3")
PACKAGE_DATA = (".py", ".xml", ".rng", ".xsd")
COMMAND = ("#!{python}\n\"\"\"sm-clusterstack (installed by make install).\"\"\"\n\n"
           "import sys\n\nfrom sm_clusterstack.cli import main\n\n"
           "if __name__ == \"__main__\":\n    sys.exit(main())\n")


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--destdir", default="")
    parser.add_argument("--python", required=True, help="interpreter of the installed scripts")
    parser.add_argument("--sitelib", required=True)
    parser.add_argument("--bindir", required=True)
    parser.add_argument("--sm-dir", required=True)
    parser.add_argument("--stack-root", required=True)
    parser.add_argument("--unitdir", default="")
    parser.add_argument("--logrotatedir", default="")
    parser.add_argument("--mandir", default="", help="<prefix>/share/man: man/*.N go into its manN")
    parser.add_argument("--no-compile", action="store_true")
    return parser.parse_args(argv)


def under(destdir, path):
    """``path`` (absolute, as on the target) below ``destdir``."""
    return os.path.join(destdir, path.lstrip("/")) if destdir else path


def with_shebang(text, python):
    """``text`` with a Python ``#!`` line pointed at ``python``; other text unchanged."""
    first, newline, rest = text.partition("\n")
    if first.strip() in PY_SHEBANGS:
        return "#!" + python + newline + rest
    return text


def write_file(path, data, mode):
    """Write ``data`` to ``path`` through a temporary name and a rename."""
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    tmp = path + ".install-tmp"
    with open(tmp, "w") as f:
        f.write(data)
    os.chmod(tmp, mode)
    os.rename(tmp, path)


def copy_package(sitelib):
    """Copy the package into ``sitelib``/sm_clusterstack, replacing any older copy whole."""
    final = os.path.join(sitelib, "sm_clusterstack")
    new, old = final + ".install-new", final + ".install-old"
    for leftover in (new, old):
        shutil.rmtree(leftover, ignore_errors=True)
    source = os.path.join(TOP, "sm_clusterstack")
    for directory, dirs, files in os.walk(source):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        target = os.path.join(new, os.path.relpath(directory, source))
        os.makedirs(target, mode=0o755, exist_ok=True)
        for name in sorted(files):
            if name.endswith(PACKAGE_DATA):
                shutil.copyfile(os.path.join(directory, name), os.path.join(target, name))
                os.chmod(os.path.join(target, name), 0o644)
    if os.path.exists(final):
        os.rename(final, old)
    os.rename(new, final)
    shutil.rmtree(old, ignore_errors=True)
    return final


def compile_package(python, package, sitelib):
    """Byte-compile with the target interpreter, recording the installed paths."""
    subprocess.run([python, "-m", "compileall", "-q", "-d", os.path.join(sitelib, "sm_clusterstack"),
                    package], check=True, timeout=300)


def install_text(source, target, python, mode=None, bindir=""):
    with open(source) as f:
        text = f.read().replace("@BINDIR@", bindir)
    if mode is None:
        mode = 0o755 if os.access(source, os.X_OK) else 0o644
    write_file(target, with_shebang(text, python), mode)


def is_wrapper(path):
    try:
        with open(path) as f:
            return WRAPPER_MARK in f.read(4096)
    except (OSError, UnicodeDecodeError):
        return False


OLD_STACK_NAMES = ("corosync",)  # our corosync-based stack's first name, which xapi reserves for xapi-clusterd


def remove_old_stacks(root):
    """Remove a stack dir of an old name when it holds nothing but our old scripts (and ha_supported_srs)."""
    for name in OLD_STACK_NAMES:
        old = os.path.join(root, name)
        if not os.path.isdir(old) or os.path.islink(old):
            continue
        ours = True
        for entry in os.listdir(old):
            path = os.path.join(old, entry)
            if entry == "ha_supported_srs":
                continue
            try:
                with open(path) as f:
                    ours = ours and entry.startswith("ha_") and "sm_clusterstack.corostack" in f.read(65536)
            except (OSError, UnicodeDecodeError):
                ours = False
        if ours:
            print("removing %s: the old name of corosync-ha" % old)
            shutil.rmtree(old)


def install_stacks(root, python):
    source_root = os.path.join(TOP, "libexec", "xapi", "cluster-stack")
    if os.path.isdir(root):
        remove_old_stacks(root)
    for stack in sorted(os.listdir(source_root)):
        for name in sorted(os.listdir(os.path.join(source_root, stack))):
            source, target = os.path.join(source_root, stack, name), os.path.join(root, stack, name)
            if is_wrapper(source) and os.path.lexists(target) and not is_wrapper(target):
                print("keeping %s: xhad's real tool, moved in by 'sm-clusterstack upgrade'" % target)
                continue
            install_text(source, target, python)
        os.chmod(os.path.join(root, stack), 0o755)


def install_drivers(sm_dir, python):
    source_dir = os.path.join(TOP, "drivers")
    for name in sorted(os.listdir(source_dir)):
        if name.endswith("SR"):
            install_text(os.path.join(source_dir, name), os.path.join(sm_dir, name), python, 0o755)


def install_service_files(args):
    if args.unitdir:
        install_text(os.path.join(HERE, "sm-clusterstack.service"),
                     os.path.join(under(args.destdir, args.unitdir), "sm-clusterstack.service"),
                     args.python, 0o644, bindir=args.bindir)
    if args.logrotatedir:
        install_text(os.path.join(HERE, "sm-clusterstack.logrotate"),
                     os.path.join(under(args.destdir, args.logrotatedir), "sm-clusterstack"),
                     args.python, 0o644)


def install_man_pages(mandir):
    """Copy each ``man/<page>.<N>`` into ``mandir``/man<N>, mode 0644."""
    source_dir = os.path.join(TOP, "man")
    for name in sorted(os.listdir(source_dir)):
        section = name.rpartition(".")[2]
        if section.isdigit():
            with open(os.path.join(source_dir, name)) as f:
                write_file(os.path.join(mandir, "man" + section, name), f.read(), 0o644)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    package = copy_package(under(args.destdir, args.sitelib))
    if not args.no_compile:
        compile_package(args.python, package, args.sitelib)
    write_file(os.path.join(under(args.destdir, args.bindir), "sm-clusterstack"),
               COMMAND.format(python=args.python), 0o755)
    install_drivers(under(args.destdir, args.sm_dir), args.python)
    install_stacks(under(args.destdir, args.stack_root), args.python)
    install_service_files(args)
    if args.mandir:
        install_man_pages(under(args.destdir, args.mandir))
    print("installed for %s: library in %s, command in %s, drivers in %s, stacks in %s"
          % (args.python, under(args.destdir, args.sitelib), under(args.destdir, args.bindir),
             under(args.destdir, args.sm_dir), under(args.destdir, args.stack_root)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
