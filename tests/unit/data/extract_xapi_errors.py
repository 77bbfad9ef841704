#!/usr/bin/env python3
"""Write xapi_errors.json: xapi's code, parameter names and text of every error the project names.

Run by hand against a checkout of xapi-project/xen-api (a bare mirror is fine):
``extract_xapi_errors.py GIT_DIR [REV]``.  It reads ``ocaml/xapi-consts/api_errors.ml``
(``let name = add_error "CODE"``) and ``ocaml/idl/datamodel_errors.ml`` (``error
Api_errors.name ["param"; ...] ~doc:"..." ()``) at REV (default HEAD), and keeps the codes
``sm_clusterstack.errors`` defines and the texts ``sm_clusterstack.cli.xe.errors.DATAMODEL``
prints.  ``tests/unit/test_xapi_error_table.py`` compares the project's table with it.
"""

import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))

from sm_clusterstack import errors  # noqa: E402
from sm_clusterstack.cli.xe.errors import DATAMODEL  # noqa: E402

CODE = re.compile(r"let\s+(\w+)\s*=\s*add_error\s*\"([A-Za-z0-9_]+)\"")
ERROR = re.compile(r"error\s+Api_errors\.(\w+)\s*\[([^\]]*)\]\s*(?:~doc:\s*\"((?:[^\"\\]|\\.)*)\")?", re.S)


def ocaml_string(text):
    """An OCaml string literal's value: ``\\`` + newline + indentation is nothing, ``\\"`` is ``"``."""
    text = re.sub(r"\\\n\s*", "", text)
    return re.sub(r"\\(.)", r"\1", text)


def raised_codes():
    """The XenAPI codes ``sm_clusterstack.errors`` names (its upper-case string constants)."""
    return sorted({v for k, v in vars(errors).items() if k.isupper() and isinstance(v, str)
                   and re.match(r"[A-Z][A-Z_0-9]+\Z", v)})


def show(git_dir, rev, path):
    return subprocess.run(["git", "--git-dir", git_dir, "show", "%s:%s" % (rev, path)], check=True,
                          stdout=subprocess.PIPE, timeout=60).stdout.decode()


def main(git_dir, rev="HEAD"):
    codes = dict(CODE.findall(show(git_dir, rev, "ocaml/xapi-consts/api_errors.ml")))
    table = {code: {"params": None, "doc": None} for code in codes.values()}  # in api_errors.ml, no datamodel text
    for name, params, doc in ERROR.findall(show(git_dir, rev, "ocaml/idl/datamodel_errors.ml")):
        if name in codes:
            table[codes[name]] = {"params": re.findall(r"\"([^\"]*)\"", params), "doc": ocaml_string(doc)}
    wanted = set(raised_codes()) | set(DATAMODEL)
    commit = subprocess.run(["git", "--git-dir", git_dir, "rev-parse", rev], check=True, stdout=subprocess.PIPE,
                            timeout=60).stdout.decode().strip()
    found = {"source": "xapi-project/xen-api %s: ocaml/xapi-consts/api_errors.ml, ocaml/idl/datamodel_errors.ml"
             % commit, "errors": {code: table[code] for code in sorted(wanted) if code in table}}
    with open(os.path.join(HERE, "xapi_errors.json"), "w") as f:
        json.dump(found, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main(*sys.argv[1:])
