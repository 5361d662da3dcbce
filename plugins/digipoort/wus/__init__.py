"""Digipoort WUS 2.0 ("voor bedrijven", koppelvlak 1.2) protocol library.

Modules:

- ``ns``: namespaces, wsa:Action URIs, endpoint paths and environments.
- ``koppelvlak``: typed request/response/fault bodies, XSD-validated both ways.
- ``envelope``: SOAP 1.1 envelopes with WS-Addressing headers; fault envelopes.
- ``security``: WS-Security 1.0 signing and verification (signxml).
- ``tls``: client and server ``ssl.SSLContext`` for two-way TLS.
- ``pki``: a throw-away test PKI (CA, server, supplier certificates).
- ``codes``: status codes and fault codes with their meaning.
- ``client``: ``WusClient`` (aiohttp) calling a WUS operation.
- ``server``: helpers for an aiohttp handler serving a WUS operation.
- ``berichtsoorten``: berichtsoort <-> (document kind, format key prefix).
"""
