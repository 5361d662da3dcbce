"""The ``gateway`` command line. One module per command group."""
