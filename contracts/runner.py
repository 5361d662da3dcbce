"""``gateway contracts``: run the kit with pytest."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from contracts import KIT_DIR


def run(plugins: Sequence[str] = (), pytest_args: Sequence[str] = ()) -> int:
    """Run the kit; returns pytest's exit status."""
    args = [
        str(KIT_DIR), "-p", "no:cacheprovider", "--rootdir", str(KIT_DIR),
        "-o", "asyncio_mode=auto", *pytest_args,
    ]
    for name in plugins:
        args += ["--plugin", name]
    return int(pytest.main(args))
