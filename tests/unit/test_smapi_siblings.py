"""Asking the driver beside us for its required_cluster_stack (pools whose SM records lack it)."""

import os

from sm_clusterstack.runner import Result
from sm_clusterstack.smapi import call as smapi_call
from sm_clusterstack.smapi import siblings

ANSWER = ("<?xml version='1.0'?><methodResponse><params><param><value><struct>%s</struct></value>"
          "</param></params></methodResponse>")
GOOD = "".join("<member><name>%s</name><value><string>x</string></value></member>" % m for m in (
    "name", "description", "vendor", "copyright", "driver_version", "required_api_version")) + (
    "<member><name>capabilities</name><value><array><data/></array></value></member>"
    "<member><name>configuration</name><value><array><data/></array></value></member>"
    "<member><name>required_cluster_stack</name><value><array><data><value><string>corosync</string>"
    "</value></data></array></value></member>")


def executable(path):
    path.write_text("#!/bin/sh\n")
    os.chmod(str(path), 0o755)
    return str(path)


def test_driver_is_found_by_type_case_insensitively(tmp_path):
    wanted = executable(tmp_path / "OCFS2SR")
    executable(tmp_path / "LVMSR")
    (tmp_path / "MelioSR").write_text("not executable")
    assert siblings.driver_path(str(tmp_path), "ocfs2") == wanted
    assert siblings.driver_path(str(tmp_path), "melio") == ""
    assert siblings.driver_path(str(tmp_path / "nowhere"), "ocfs2") == ""


def test_the_siblings_declared_stacks_are_read(tmp_path, fake_runner):
    path = executable(tmp_path / "OCFS2SR")
    fake_runner.expect([path, smapi_call.Call("sr_get_driver_info").to_xml()], stdout=ANSWER % GOOD)
    assert siblings.required_cluster_stack(str(tmp_path), "ocfs2", run=fake_runner) == ["corosync"]


def test_a_sibling_that_answers_badly_constrains_nothing(tmp_path):
    executable(tmp_path / "OCFS2SR")
    for stdout in ("", "garbage", ANSWER % "<member><name>name</name><value>x</value></member>",
                   "<methodResponse><fault><value><struct><member><name>faultCode</name><value><int>1"
                   "</int></value></member><member><name>faultString</name><value>x</value></member>"
                   "</struct></value></fault></methodResponse>"):
        def run(argv, timeout=None, stdin=None, env=None, cwd=None, stdout=stdout):
            return Result(argv, 0, stdout, "")
        assert siblings.required_cluster_stack(str(tmp_path), "ocfs2", run=run) == [], stdout


def test_no_sibling_constrains_nothing_without_running_anything(tmp_path, fake_runner):
    assert siblings.required_cluster_stack(str(tmp_path), "nfs", run=fake_runner) == []
