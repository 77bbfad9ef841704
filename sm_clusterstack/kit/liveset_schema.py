"""The liveset schema the kit ships (``data/liveset.rng``) and validation against it."""

import os
import typing

from sm_clusterstack import xmlsafe

SCHEMA_PATH = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "liveset.rng")
_schema = None  # type: typing.Any


def schema() -> typing.Any:
    """The compiled RELAX NG schema of the liveset (loaded once)."""
    global _schema
    if _schema is None:
        from lxml import etree
        with open(SCHEMA_PATH, "rb") as f:
            _schema = etree.RelaxNG(xmlsafe.parse(f.read(), SCHEMA_PATH))
    return _schema


def problems(data: typing.Union[bytes, str]) -> typing.List[str]:
    """Why ``data`` is not a liveset valid against the schema; [] when it is."""
    try:
        root = xmlsafe.parse(data, "liveset")
    except xmlsafe.XMLFormatError as e:
        return [str(e)]
    checker = schema()
    if checker.validate(root.getroottree()):
        return []
    errors = list(checker.error_log)
    if not errors:
        return ["not valid against %s" % os.path.basename(SCHEMA_PATH)]
    return ["%s (line %d): %s" % (e.path, e.line, e.message) for e in errors[:1]]
