"""The ``sm-clusterstack`` command: argv parsing and rendering only.

Each verb is a module of this package with ``HELP`` (one line),
``add_arguments(parser)`` and ``run(args) -> int``, or, for a verb that
parses its argv itself as xe does, ``RAW_ARGUMENTS = True`` and
``main(argv) -> int``; the table below names them, and a verb's module is
imported only when that verb runs (or for ``--help``).
"""

import argparse
import importlib
import sys
import typing

from sm_clusterstack import __version__

VERBS = (
    ("stack-list", "sm_clusterstack.cli.stack_list"),
    ("serve", "sm_clusterstack.cli.serve"),
    ("sandbox", "sm_clusterstack.cli.sandbox"),
    ("xe", "sm_clusterstack.cli.xe.main"),
    ("ha", "sm_clusterstack.cli.ha"),
    ("kit", "sm_clusterstack.cli.kit"),
    ("upgrade", "sm_clusterstack.cli.upgrade"),
    ("db", "sm_clusterstack.cli.db"),
)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    """The parser of every verb."""
    parser = argparse.ArgumentParser(
        prog="sm-clusterstack",
        description="Run a Xen pool whose clustered storage brings its own cluster "
                    "manager: inspect cluster stacks, serve the xapi-side shim, "
                    "check vendors' drivers and stacks.")
    parser.add_argument("--version", action="version", version="%(prog)s " + __version__)
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    sub.required = True
    for verb, module_name in VERBS:
        module = importlib.import_module(module_name)
        verb_parser = sub.add_parser(verb, help=module.HELP, description=module.HELP)
        if not getattr(module, "RAW_ARGUMENTS", False):  # main() hands a raw verb its argv before parsing
            module.add_arguments(verb_parser)
            verb_parser.set_defaults(run=module.run)
    return parser


def main(argv: typing.Optional[typing.List[str]] = None) -> int:
    """Entry point of the console script."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        raw = _raw_verb(argv)
        if raw is not None:  # a verb that parses its own arguments (xe, as xe does)
            return raw.main(argv[1:])
        args = build_parser().parse_args(argv)
        return args.run(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK


def _raw_verb(argv: typing.List[str]) -> typing.Any:
    """The module of verb ``argv[0]`` if it takes its argv unparsed (RAW_ARGUMENTS), else None."""
    modules = dict(VERBS)
    if not argv or argv[0] not in modules:
        return None
    module = importlib.import_module(modules[argv[0]])
    return module if getattr(module, "RAW_ARGUMENTS", False) else None
