"""Layers import only downward (DESIGN.md): checked on the source of every module."""

import ast
import os

import sm_clusterstack

PACKAGE_DIR = os.path.dirname(sm_clusterstack.__file__)

# A module's layer is the first entry whose prefix it matches; lower numbers are lower layers.
LAYERS = [
    ("sm_clusterstack.errors", 0), ("sm_clusterstack.xmlsafe", 0), ("sm_clusterstack.xmlrpc_safe", 0),
    ("sm_clusterstack.runner", 0),
    ("sm_clusterstack.digits", 0), ("sm_clusterstack.logsetup", 0), ("sm_clusterstack.constraints", 1),
    ("sm_clusterstack.config", 2), ("sm_clusterstack.explain", 2),
    ("sm_clusterstack.stacks", 2), ("sm_clusterstack.smapi", 2), ("sm_clusterstack.corostack", 3),
    ("sm_clusterstack.xapi", 4), ("sm_clusterstack.kit", 5), ("sm_clusterstack.cli", 6),
    ("sm_clusterstack", 0),
]


def layer_of(module):
    for prefix, layer in LAYERS:
        if module == prefix or module.startswith(prefix + "."):
            return layer
    raise AssertionError("module %s has no layer: add it to LAYERS" % module)


def modules():
    for dirpath, _dirs, files in os.walk(PACKAGE_DIR):
        for name in files:
            if name.endswith(".py"):
                rel = os.path.relpath(os.path.join(dirpath, name), os.path.dirname(PACKAGE_DIR))
                mod = rel[:-3].replace(os.sep, ".")
                yield (mod[:-len(".__init__")] if mod.endswith(".__init__") else mod), os.path.join(dirpath, name)


def imported(path):
    tree = ast.parse(open(path).read())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            for alias in node.names:
                yield node.module + "." + alias.name


def test_no_module_imports_a_higher_layer():
    wrong = []
    for module, path in modules():
        for name in imported(path):
            if name.startswith("sm_clusterstack") and layer_of(name) > layer_of(module):
                wrong.append("%s imports %s" % (module, name))
    assert wrong == []


def test_constraints_imports_nothing_but_errors_and_stdlib():
    path = os.path.join(PACKAGE_DIR, "constraints.py")
    ours = {n for n in imported(path) if n.startswith("sm_clusterstack")}
    assert ours <= {"sm_clusterstack", "sm_clusterstack.errors", "sm_clusterstack.errors.XenAPIError"}
