-- Who has the turn at work every gateway instance on the database would otherwise
-- do at once: a channel's status poll round (N instances asked Digipoort N times
-- about every waiting message). A holder renews its lease before expires_at; once
-- that passed, any instance may take it, so a holder that died hands over by itself.
-- Times are UTC text as elsewhere, by the clock of the one machine whose processes
-- share the file.
CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at TEXT NOT NULL
) WITHOUT ROWID;
