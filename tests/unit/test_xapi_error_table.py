"""The shim's XenAPI errors are xapi's: codes, parameter names and the texts xe prints.

``data/xapi_errors.json`` is extracted by ``data/extract_xapi_errors.py`` from
xapi-project/xen-api (the commit is in the file): ``ocaml/xapi-consts/api_errors.ml``
(``add_error``: the codes) and ``ocaml/idl/datamodel_errors.ml`` (``error ... ~doc``:
parameter names and texts, what ``cli_util.ml`` ``get_server_error`` prints).
"""

import json
import os
import re

import pytest

from sm_clusterstack import errors
from sm_clusterstack.cli.xe.errors import DATAMODEL, OWN_CODES

with open(os.path.join(os.path.dirname(__file__), "data", "xapi_errors.json")) as _f:
    XAPI = json.load(_f)["errors"]
RAISED = sorted({v for k, v in vars(errors).items() if k.isupper() and isinstance(v, str)
                 and re.match(r"[A-Z][A-Z_0-9]+\Z", v)} - {errors.SR_BACKEND_FAILURE_PREFIX})


@pytest.mark.parametrize("code", RAISED)
def test_every_code_the_shim_raises_is_xapis_or_declared_its_own(code):
    assert code in XAPI or code in OWN_CODES, "%s: not in api_errors.ml; a code of the project is in OWN_CODES" % code


@pytest.mark.parametrize("code", [c for c in RAISED if c not in OWN_CODES])
def test_xe_prints_the_datamodel_text_and_parameter_names_of_every_xapi_code_raised(code):
    assert code in DATAMODEL, "xe would print 'Error code: %s' instead of the datamodel's text" % code
    assert DATAMODEL[code] == (XAPI[code]["params"], XAPI[code]["doc"])


@pytest.mark.parametrize("code", sorted(OWN_CODES))
def test_the_projects_own_codes_print_as_xe_prints_a_code_it_does_not_know(code):
    assert code not in DATAMODEL


@pytest.mark.parametrize("code", sorted(c for c in DATAMODEL if c in XAPI))
def test_every_text_of_the_cli_table_is_the_datamodels(code):
    assert DATAMODEL[code] == (XAPI[code]["params"], XAPI[code]["doc"])


def test_the_projects_own_codes_are_not_xapis():
    assert sorted(set(OWN_CODES) & set(XAPI)) == []
