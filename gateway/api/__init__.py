"""The gateway's HTTP interface for the ERP and for operators.

``app`` mounts every :class:`~gateway.api.operations.Operation` behind the
token check of ``auth``; the handlers live in ``outbound`` (submit),
``messages`` (read, retry, cancel, reroute), ``inbox`` (the ERP's inbox) and
``channels`` (routes channels offer); ``openapi`` writes the document from the
same operations; errors are ``problems`` (RFC 9457).
"""
