"""A strict fake of ``sm_clusterstack.runner.run``: an ordered queue of expected calls.

Each expectation names the argv (and optionally env items) it must see and
the Result to return; any call that was not expected next fails the test,
and ``assert_done`` fails if an expected call never came.
"""

from sm_clusterstack.runner import Result


class FakeRunner(object):
    """Callable like runner.run; replays expectations in order."""

    def __init__(self):
        self.expected = []
        self.calls = []

    def expect(self, argv, returncode=0, stdout="", stderr="", timed_out=False, env_items=None, overflow="",
               where=""):
        """Queue one expected call and the Result it answers."""
        self.expected.append((list(argv), dict(env_items or {}),
                              Result(argv, returncode, stdout, stderr, timed_out, overflow=overflow, where=where)))
        return self

    def __call__(self, argv, timeout=None, env=None, stdin=None, cwd=None):
        argv = list(argv)
        self.calls.append((argv, env, timeout))
        assert self.expected, "unexpected call %r" % (argv,)
        want_argv, want_env, result = self.expected.pop(0)
        assert argv == want_argv, "expected %r, got %r" % (want_argv, argv)
        for key, value in want_env.items():
            assert (env or {}).get(key) == value, "env %s: expected %r, got %r" % (
                key, value, (env or {}).get(key))
        assert timeout is not None and timeout > 0, "every run needs a timeout"
        return result

    def assert_done(self):
        """Fail when an expected call was never made."""
        assert not self.expected, "calls never made: %r" % ([e[0] for e in self.expected],)
