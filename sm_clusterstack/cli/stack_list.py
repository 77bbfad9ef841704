"""``sm-clusterstack stack-list``: the stacks under the cluster-stack root."""

import argparse
import sys

from sm_clusterstack import cli, stacks
from sm_clusterstack.cli import options

HELP = "list the cluster stacks installed under the cluster-stack root"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    options.add(parser, "stack-list", options.XAPI_CONF, options.ROOT)


def run(args: argparse.Namespace) -> int:
    """Print one block per stack; exit 1 when a stack is unsafe or incomplete."""
    root = options.stack_root(args)
    names = stacks.installed_stacks(root)
    if not names:
        sys.stdout.write("no cluster stacks under %s\n" % root)
        return cli.EXIT_FAILED
    sys.stdout.write("cluster stacks under %s\n" % root)
    bad = False
    for name in names:
        info = stacks.describe(root, name)
        bad = bad or bool(info.problems or info.missing)
        sys.stdout.write(render(info))
    return cli.EXIT_FAILED if bad else cli.EXIT_OK


def render(info: stacks.StackInfo) -> str:
    """The block printed for one stack."""
    srs = " ".join(info.supported_srs) if info.supported_srs is not None else "any"
    lines = [
        "",
        "%s  (%s)" % (info.name, info.path),
        "  scripts present : %s" % (" ".join(info.present) or "none"),
        "  scripts missing : %s" % (" ".join(info.missing) or "none"),
        "  statefile SRs   : %s" % srs,
        "  safety          : %s" % ("UNSAFE" if info.problems else "ok"),
    ]
    lines.extend("    - %s" % problem for problem in info.problems)
    return "\n".join(lines) + "\n"
