"""The shim's log handlers: a file that survives logrotate's move, and syslog facility daemon."""

import logging
import os
import socket

import pytest

from sm_clusterstack import logsetup


@pytest.fixture(autouse=True)
def restored_logger():
    """configure() changes the package logger: put it back as it was for the other tests."""
    logger = logging.getLogger("sm_clusterstack")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    logger.handlers[:], logger.level, logger.propagate = saved[0], saved[1], saved[2]


def test_file_and_syslog_handlers(tmp_path):
    dev_log = str(tmp_path / "log")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(dev_log)
    listener.settimeout(5)
    log_file = str(tmp_path / "logs" / "serve.log")
    logsetup.configure(log_file, dev_log=dev_log, stream=open(os.devnull, "w"))
    try:
        logging.getLogger("sm_clusterstack.xapi.calls").info("call pool.enable_ha user=root 3ms SUCCESS")
        # daemon (3) * 8 + info (6): what a dom0's syslog files with xapi's own lines
        assert listener.recv(4096).startswith(b"<30>sm-clusterstack[%d]: INFO sm_clusterstack.xapi.calls: call "
                                              % os.getpid())
        os.rename(log_file, log_file + ".1")  # what logrotate does
        logging.getLogger("sm_clusterstack.xapi").info("after the rotation")
        with open(log_file) as f:
            assert "sm_clusterstack.xapi: after the rotation" in f.read()
        with open(log_file + ".1") as f:
            assert "call pool.enable_ha user=root 3ms SUCCESS" in f.read()
    finally:
        listener.close()


def test_no_dev_log_means_no_syslog_handler(tmp_path):
    handlers = logsetup.configure(None, dev_log=str(tmp_path / "absent"), stream=open(os.devnull, "w"))
    assert [type(h).__name__ for h in handlers] == ["StreamHandler"]
