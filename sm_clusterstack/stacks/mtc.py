"""The MTC exit codes of the xhad script interface (REFERENCE.md section 4)."""

import typing

SUCCESS = 0
INVALID_PARAMETER = 1
SYSTEM_ERROR = 2
TRANSIENT_SYSTEM_ERROR = 3
WATCHDOG_ERROR = 4
IMPROPER_LICENSE = 5
CAN_NOT_READ_CONFIG_FILE = 6
INVALID_CONFIG_FILE = 7
CAN_NOT_ACCESS_STATEFILE = 8
INVALID_STATE_FILE = 9
GENERATION_UUID_MISMATCH = 10
INVALID_POOL_STATE = 11
BOOTJOIN_TIMEOUT = 12
CAN_NOT_JOIN_EXISTING_LIVESET = 13
DAEMON_IS_NOT_PRESENT = 14
DAEMON_IS_PRESENT = 15
INVALID_ENVIRONMENT = 16
INVALID_LOCALHOST_STATE = 17
BOOT_BLOCKED_BY_EXCLUDED = 18
SET_EXCLUDED = 19
INTERNAL_BUG = 127

NAMES = {
    value: name for name, value in globals().items()
    if name.isupper() and isinstance(value, int)
}  # type: typing.Dict[int, str]


def name_of(code: typing.Optional[int]) -> str:
    """The MTC name of exit status ``code`` (TIMEOUT, KILLED or UNKNOWN_n otherwise)."""
    if code is None:
        return "TIMEOUT"
    if code < 0:
        return "KILLED_BY_SIGNAL_%d" % -code
    return NAMES.get(code, "UNKNOWN_%d" % code)
