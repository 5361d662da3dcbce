"""The project's own schemas and the pinned manifest of official artifacts.

- ``standards.toml``: every official XSD, compiled Schematron XSLT and WSDL
  the built-in plugins use, pinned by sha256 with its licence and official
  download address. The files themselves are never part of this repository:
  ``gateway standards install`` puts them in the data directory.
- ``canonical/*.schema.json``: the JSON Schema of each canonical document, the
  contract between the gateway and the ERP.

This folder is a package only so that the files travel inside the wheel.
"""

from __future__ import annotations

from pathlib import Path

SCHEMAS_DIR = Path(__file__).resolve().parent
STANDARDS_MANIFEST = SCHEMAS_DIR / "standards.toml"
CANONICAL_DIR = SCHEMAS_DIR / "canonical"
