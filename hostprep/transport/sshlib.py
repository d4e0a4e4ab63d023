"""paramiko, imported without invoke: the one place hostprep's SSH modules take paramiko from.

paramiko.config imports invoke at its own import, only to run an ssh_config `Match exec` command; invoke in
turn imports its task runner, parser and `unittest.mock` (with asyncio): about a fifth of a run's start-up
CPU, for a keyword hardly any ssh_config uses. Here paramiko is imported with invoke kept out, and
paramiko.config is given a stand-in whose `run` imports invoke when a `Match exec` is evaluated (a missing
invoke then fails as paramiko's own import would have: ImportError).
"""

from __future__ import annotations

import sys
from typing import Any


class _InvokeOnDemand:
    """Stands for the invoke module in paramiko.config until a `Match exec` needs it."""

    @staticmethod
    def run(*args: Any, **kwargs: Any) -> Any:  # noqa: ANN401 - invoke.run's own signature
        import invoke

        return invoke.run(*args, **kwargs)


def _import() -> Any:  # noqa: ANN401 - the paramiko module
    blocked = "invoke" not in sys.modules
    if blocked:
        sys.modules["invoke"] = None  # type: ignore[assignment] - `import invoke` raises ImportError at once
    try:
        import paramiko
        import paramiko.config
    finally:
        if blocked and "invoke" in sys.modules and sys.modules["invoke"] is None:
            del sys.modules["invoke"]
    if paramiko.config.invoke is None:
        paramiko.config.invoke = _InvokeOnDemand
    return paramiko


paramiko = _import()

__all__ = ["paramiko"]
