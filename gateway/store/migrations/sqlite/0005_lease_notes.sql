-- What the holder of a lease leaves for the next one: for a channel's OphaalService
-- turn, up to when everything fetched is stored. Apart from the leases, so a release
-- or an expiry keeps it: the next holder may be an instance that never saw the one
-- before. Written only by a holder while its lease is live; holder and written_at
-- tell a person who wrote it when. Times are UTC text as elsewhere.
CREATE TABLE lease_notes (
    name       TEXT PRIMARY KEY,
    note       TEXT NOT NULL,
    holder     TEXT NOT NULL,
    written_at TEXT NOT NULL
) WITHOUT ROWID;
