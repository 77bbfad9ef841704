"""XenAPI on the wire: HTTP framing, the method registry, the dispatcher, sessions, the call log.

``httpframe`` parses a request's head; ``server`` serves XML-RPC on a unix
socket and loopback TCP; ``registry`` (the bottom) is the method table
the method modules register into; ``dispatch`` (above it) checks arity,
types and the session and runs a method, answering the XenAPI response
struct; ``sessions`` keeps sessions as xapi does; ``calllog`` logs one
line a call; ``context`` is the shim's running state every request sees.
"""
