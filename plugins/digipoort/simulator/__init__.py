"""A local Digipoort (WUS 1.2) for tests, the conformance runner and rehearsals.

``DigipoortSimulator`` (module ``simulator``) serves the Aanlever-,
Statusinformatie- and OphaalService over two-way TLS on loopback and delivers
agency documents to an AfleverService; ``SimulatorSettings``, ``Fault`` and
``FaultKind`` (module ``settings``) configure it; ``scenarios`` documents the
Aansluit Suite scenarios and how we interpret each. The CLI command
``gateway simulate digipoort`` lives in ``plugin``.
"""

from .scenarios import SCENARIOS, scenario_of
from .settings import Fault, FaultKind, SimulatorSettings
from .simulator import DigipoortSimulator

__all__ = [
    "SCENARIOS",
    "DigipoortSimulator",
    "Fault",
    "FaultKind",
    "SimulatorSettings",
    "scenario_of",
]
