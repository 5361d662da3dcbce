"""Tools for developing the gateway (tests, benchmarks, local runs); never used in service."""
