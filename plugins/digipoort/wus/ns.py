"""Namespaces, wsa:Action URIs, endpoint paths and environments of Digipoort WUS 1.2.

The Action of a request equals its soapAction in the WSDL:
``<service ns><Service>/<operation>Request``; the response Action ends in
``Response`` and a fault's in ``/<operation>/Fault/``. The AfleverService is
not published by Logius; its namespace and Action follow the same pattern (our
reconstruction, see ``wsdl/AfleverService_V1_2.wsdl``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

KV: Final = "http://logius.nl/digipoort/koppelvlakservices/1.2/"
SOAP: Final = "http://schemas.xmlsoap.org/soap/envelope/"
WSA: Final = "http://www.w3.org/2005/08/addressing"
WSA_ANONYMOUS: Final = "http://www.w3.org/2005/08/addressing/anonymous"
WSSE: Final = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
)
WSU: Final = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
)
DS: Final = "http://www.w3.org/2000/09/xmldsig#"
EXC_C14N: Final = "http://www.w3.org/2001/10/xml-exc-c14n#"
X509V3: Final = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"
)
BASE64_BINARY: Final = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0"
    "#Base64Binary"
)

NSMAP: Final = {
    "soapenv": SOAP,
    "wsa": WSA,
    "wsse": WSSE,
    "wsu": WSU,
    "ds": DS,
    "kv": KV,
}

AANLEVER_NS: Final = "http://logius.nl/digipoort/wus/2.0/aanleverservice/1.2/"
STATUS_NS: Final = "http://logius.nl/digipoort/wus/2.0/statusinformatieservice/1.2/"
OPHAAL_NS: Final = "http://logius.nl/digipoort/wus/2.0/ophaalservice/1.2/"
AFLEVER_NS: Final = "http://logius.nl/digipoort/wus/2.0/afleverservice/1.2/"

# service name -> (namespace, portType name)
SERVICES: Final = {
    "aanlever": (AANLEVER_NS, "AanleverService"),
    "status": (STATUS_NS, "StatusinformatieService"),
    "ophaal": (OPHAAL_NS, "OphaalService"),
    "aflever": (AFLEVER_NS, "AfleverService"),
}

OPERATIONS: Final = {
    "aanlever": ("aanleveren",),
    "status": (
        "getBerichtsoorten",
        "getProcessen",
        "getStatussenProces",
        "getNieuweStatussenProces",
        "getNieuweStatussen",
    ),
    "ophaal": (
        "getBerichten",
        "getNieuweBerichten",
        "getBerichtenLijst",
        "getNieuweBerichtenLijst",
        "getBerichtenKenmerk",
        "getNieuweBerichtenKenmerk",
    ),
    "aflever": ("afleveren",),
}


def _base(service: str) -> str:
    namespace, port = SERVICES[service]
    return f"{namespace}{port}/"


def request_action(service: str, operation: str) -> str:
    """The wsa:Action (= soapAction) of a request, e.g. ``.../aanleverenRequest``."""
    return f"{_base(service)}{operation}Request"


def response_action(service: str, operation: str) -> str:
    return f"{_base(service)}{operation}Response"


def fault_action(service: str, operation: str) -> str:
    return f"{_base(service)}{operation}/Fault/"


def operation_of(action: str) -> tuple[str, str] | None:
    """(service, operation) of a request Action, or None when it is not one of ours."""
    for service, operations in OPERATIONS.items():
        for operation in operations:
            if request_action(service, operation) == action:
                return service, operation
    return None


AANLEVEREN: Final = request_action("aanlever", "aanleveren")
AFLEVEREN: Final = request_action("aflever", "afleveren")

# Path suffixes of the endpoints below a host, per environment family.
CPL_PATHS: Final = {
    "aanlever": "/cpl/aanleverservice/1.2",
    "status": "/cpl/statusinformatieservice/1.2",
    "ophaal": "/cpl/ophaalservice/services/OphaalService_V1_2",
}
WUS_PATHS: Final = {
    "aanlever": "/wus/2.0/aanleverservice/1.2",
    "status": "/wus/2.0/statusinformatieservice/1.2",
    "ophaal": "/wus/2.0/ophaalservice/1.2",
}


def _urls(host: str, paths: dict[str, str]) -> dict[str, str]:
    return {service: f"https://{host}{path}" for service, path in paths.items()}


# environment name -> service ("aanlever", "status", "ophaal") -> URL (domain.md 3.6)
ENVIRONMENTS: Final[dict[str, dict[str, str]]] = {
    "cs-bedrijven": _urls("cs-bedrijven.procesinfrastructuur.nl", CPL_PATHS),
    "preproductie": _urls("preprod-dgp2.procesinfrastructuur.nl", WUS_PATHS),
    "productie": _urls("dgp2.procesinfrastructuur.nl", WUS_PATHS),
    "preproductie-2026": _urls("wus.preproductie.digipoort.logius.nl", WUS_PATHS),
    "productie-2026": _urls("wus.digipoort.logius.nl", WUS_PATHS),
}

# Our reconstruction of the AfleverService WSDL, shipped as package data.
AFLEVER_WSDL: Final = Path(__file__).parent / "wsdl" / "AfleverService_V1_2.wsdl"
