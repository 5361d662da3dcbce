"""What the validation pool warms at start: the validated formats a configuration routes to.

A worker's first document costs it the stylesheets' compiling and Saxon's
first run, some tenths of a second. Warming every worker with one document
of each format the agencies' routes name moves that cost to the start.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from gateway.config.model import GatewayConfig
from gateway.errors import StandardsError
from gateway.formats import Format
from gateway.registry import Registry
from gateway.validation.engine import Validator
from gateway.validation.pool import WarmSet

log = logging.getLogger(__name__)


def routed_formats(config: GatewayConfig) -> list[str]:
    """The format keys of every agency's document routes (defaults applied), sorted."""
    return sorted({route.format for agency in config.agencies.values()
                   for route in agency.documents.values()})


def warm_sets(config: GatewayConfig, registry: Registry,
              keys: Iterable[str] | None = None) -> list[WarmSet]:
    """One set per routed format (or per ``keys``) that has layers whose artifacts are installed.

    A format no plugin provides, or whose artifacts are missing, is left
    out: there is nothing to compile, and ``/health`` or the first document
    says why. Its warm document is its first sample that encodes; none
    that does leaves the set to compile only.
    """
    formats = registry.formats
    planner = Validator(config.gateway.standards_path, manifest=registry.manifest)
    found = []
    for key in routed_formats(config) if keys is None else sorted(set(keys)):
        fmt = formats.get(key)
        if fmt is None or not fmt.layers():
            continue
        layers = tuple(fmt.layers())
        try:
            for layer in layers:
                planner.artifact_path(layer.artifact)
        except StandardsError as exc:
            # Every document of a routed format is refused until this is repaired.
            log.warning("not warming validation for %s: %s", key, exc)
            continue
        found.append(WarmSet(layers, _sample_bytes(fmt), key))
    return found


def _sample_bytes(fmt: Format) -> bytes | None:
    for sample in fmt.samples():
        if sample.document is None:
            continue
        try:
            return fmt.encode(sample.document, sample.context)
        except Exception as exc:  # a plugin's sample: warming is a nicety, never a failure
            log.info("sample %s of %s does not encode, warming by compiling only: %s",
                     sample.name, fmt.key, exc)
    return None
