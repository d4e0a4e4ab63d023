"""The runtime's one error type, in a module of its own: the modules state.py calls (network.py and the
modules under it) raise it without importing state.py, so imports go one way."""


class RunError(Exception):
    """The container could not be started or reached as asked."""
