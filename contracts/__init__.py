"""The contract kit: what every format and channel plugin must satisfy.

Run it against every installed plugin::

    gateway contracts

or against one plugin, by the name of its entry point::

    gateway contracts --plugin my-plugin

It is a pytest suite; ``gateway contracts`` passes any further arguments on
to pytest (``gateway contracts -- -x -q``).
"""

from __future__ import annotations

from pathlib import Path

KIT_DIR = Path(__file__).resolve().parent
