"""The gateway's HTTP interface for the ERP and for operators."""
