"""A long TMPDIR does not keep the validation workers from starting.

multiprocessing's forkserver listens on a socket under the temp directory,
and a socket path has at most 107 bytes: under a longer TMPDIR its start
failed ("AF_UNIX path too long"), and with it every check the gateway made.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from validation_layers import BASE_EXAMPLE

SCRIPT = """
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[2])
from validation_layers import PEPPOL_INVOICE
from gateway.validation import ValidationPool
from gateway.validation.pool import _context
with ValidationPool(Path(sys.argv[1]), workers=1) as pool:
    report = pool.submit(Path(sys.argv[3]).read_bytes(), PEPPOL_INVOICE).result(timeout=120)
print(_context().get_start_method(), report.valid)
"""


def test_the_pool_starts_under_a_temp_directory_too_long_for_a_socket(
    tmp_path: Path, installed_standards: Path,
) -> None:
    temp = tmp_path / ("t" * 90)
    temp.mkdir()
    tests = Path(__file__).parent
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(installed_standards), str(tests), str(BASE_EXAMPLE)],
        env={"TMPDIR": str(temp), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True,
        timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["spawn", "True"], done.stdout + done.stderr[-3000:]
    assert "too long a path for multiprocessing's forkserver socket" in done.stderr
