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
    ("sm_clusterstack.config", 2), ("sm_clusterstack.explain_sr", 2), ("sm_clusterstack.explain", 2),
    ("sm_clusterstack.stacks", 2), ("sm_clusterstack.smapi", 2), ("sm_clusterstack.corostack", 3),
    # the shim's own floors: the store, then the wire, running things on hosts, HA, the XenAPI classes,
    # and the service that wires them (xapi.service, xapi.recovery) on top
    ("sm_clusterstack.xapi.db", 4.0), ("sm_clusterstack.xapi.rpc", 4.1), ("sm_clusterstack.xapi.hosts", 4.2),
    ("sm_clusterstack.xapi.ha", 4.3), ("sm_clusterstack.xapi.methods", 4.4), ("sm_clusterstack.xapi", 4.5),
    ("sm_clusterstack.kit", 5), ("sm_clusterstack.cli", 6),
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


def module_names():
    return {module for module, _path in modules()}


def import_graph():
    """module -> the modules of the package it imports (``from p import m`` counts as ``p.m`` when m is one)."""
    known = module_names()
    graph = {}
    for module, path in modules():
        edges = set()
        for name in imported(path):
            if name in known and name != module:
                edges.add(name)
        # "from p import m" also yields "p": keep "p" only when nothing more precise was named
        graph[module] = {e for e in edges if not any(o.startswith(e + ".") for o in edges)}
    return graph


def circles(graph):
    """Every strongly connected set of two or more modules (Tarjan's algorithm, iteratively)."""
    index, low, on_stack, stack, found, counter = {}, {}, set(), [], [], [0]
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter[0]
                    counter[0] += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_module_imports_one_that_imports_it_back():
    assert circles(import_graph()) == []


def test_the_circle_finder_finds_a_circle():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_the_shim_floors_are_ordered_as_the_design_says():
    order = ["sm_clusterstack.xapi.db.store", "sm_clusterstack.xapi.rpc.dispatch", "sm_clusterstack.xapi.hosts.plug",
             "sm_clusterstack.xapi.ha.enable", "sm_clusterstack.xapi.methods.pool", "sm_clusterstack.xapi.service"]
    assert [layer_of(m) for m in order] == sorted(layer_of(m) for m in order)
    assert len({layer_of(m) for m in order}) == len(order)
