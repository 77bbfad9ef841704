"""Fixtures shared by the functional tests (none at present: each test module has its own)."""
