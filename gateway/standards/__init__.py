"""Official validation artifacts (XSD, compiled Schematron XSLT, WSDL).

The repository never holds these files. ``schemas/standards.toml`` pins every
file by path, size and sha256 (:mod:`gateway.standards.manifest`);
:mod:`gateway.standards.installer` puts them in the standards directory, from a
folder holding the same tree or from their official download addresses, and
formats and channels find them there with
:func:`gateway.standards.installer.standards_path`.

The standards directory is, in order: the ``target_dir`` a caller passes, the
``GATEWAY_STANDARDS_DIR`` environment variable, ``<data dir>/standards``.

Nothing is imported here, so ``python -m gateway.standards.manifest`` runs
without the module already being loaded by its package.
"""
