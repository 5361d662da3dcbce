-- An attempt the gateway cut off itself (it stopped while the channel's send was in
-- flight) is recorded as 'interrupted': the transport may have received it, and an
-- operator asked about a document the agency got twice must see that it was started.
-- SQLite cannot alter a CHECK constraint, so the table is built anew and filled.
CREATE TABLE attempts_new (
    message_id   TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    number       INTEGER NOT NULL,
    started_at   TEXT NOT NULL,
    finished_at  TEXT NOT NULL,
    outcome      TEXT NOT NULL
        CHECK (outcome IN ('accepted', 'retryable', 'final', 'interrupted')),
    code         TEXT,
    detail       TEXT NOT NULL DEFAULT '',
    transport_id TEXT,
    PRIMARY KEY (message_id, number)
) WITHOUT ROWID;

INSERT INTO attempts_new (message_id, number, started_at, finished_at, outcome, code, detail,
                          transport_id)
SELECT message_id, number, started_at, finished_at, outcome, code, detail, transport_id
FROM attempts;

DROP TABLE attempts;
ALTER TABLE attempts_new RENAME TO attempts;
