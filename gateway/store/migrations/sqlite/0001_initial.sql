-- Messages, their payloads, timelines and attempts, and the configuration audit log.
-- Times are UTC text 'YYYY-MM-DDTHH:MM:SS.ffffffZ': fixed width, so text order is time order.

CREATE TABLE messages (
    id               TEXT PRIMARY KEY,       -- ULID: sorts by creation time
    direction        TEXT NOT NULL CHECK (direction IN ('outbound', 'inbound')),
    business_key     TEXT,
    agency_oin       TEXT,
    document_kind    TEXT,
    format_key       TEXT,
    channel          TEXT,
    transport_state  TEXT NOT NULL,
    business_state   TEXT NOT NULL DEFAULT 'none',
    attempts         INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts     INTEGER NOT NULL CHECK (max_attempts >= 1),
    next_attempt_at  TEXT,
    transport_id     TEXT,
    transport_ids    TEXT NOT NULL DEFAULT '[]',  -- JSON array, in the order they were given
    routing          TEXT,                        -- JSON: the route decision and its reasons
    validation       TEXT,                        -- JSON: the validation report
    last_error       TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    claimed_by       TEXT,
    claim_expires_at TEXT,
    last_event_seq   INTEGER NOT NULL DEFAULT 0,
    CHECK ((claimed_by IS NULL) = (claim_expires_at IS NULL))
);

-- Payloads apart: message rows stay small and dense, so claiming, counting and
-- listing never page through 10 KB documents.
CREATE TABLE payloads (
    message_id     TEXT PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
    raw_payload    BLOB,
    canonical_json TEXT
);

CREATE TABLE events (
    message_id      TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    seq             INTEGER NOT NULL,
    at              TEXT NOT NULL,
    kind            TEXT NOT NULL,
    transport_state TEXT,
    business_state  TEXT,
    detail          TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (message_id, seq)
) WITHOUT ROWID;

CREATE TABLE attempts (
    message_id   TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    number       INTEGER NOT NULL,
    started_at   TEXT NOT NULL,
    finished_at  TEXT NOT NULL,
    outcome      TEXT NOT NULL CHECK (outcome IN ('accepted', 'retryable', 'final')),
    code         TEXT,
    detail       TEXT NOT NULL DEFAULT '',
    transport_id TEXT,
    PRIMARY KEY (message_id, number)
) WITHOUT ROWID;

-- Every id a transport gave, so a status report naming any of them finds its message.
CREATE TABLE transport_refs (
    channel      TEXT NOT NULL,
    transport_id TEXT NOT NULL,
    message_id   TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    PRIMARY KEY (channel, transport_id, message_id)
) WITHOUT ROWID;
CREATE INDEX transport_refs_message ON transport_refs (message_id);

CREATE TABLE audit_log (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    at      TEXT NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    subject TEXT,
    reason  TEXT,
    detail  TEXT NOT NULL DEFAULT '{}'
);

-- Idempotency: one live message per direction and business key. Rejected
-- documents and inbound repeats keep their key but step aside.
CREATE UNIQUE INDEX messages_business_key_live ON messages (direction, business_key)
    WHERE business_key IS NOT NULL AND transport_state NOT IN ('rejected', 'duplicate');
CREATE INDEX messages_business_key ON messages (business_key) WHERE business_key IS NOT NULL;

-- Inbound dedupe: a channel that delivers the same transport id twice gets the first message.
CREATE UNIQUE INDEX messages_inbound_transport ON messages (channel, transport_id)
    WHERE direction = 'inbound' AND transport_id IS NOT NULL;

-- Claiming: the predicates are written exactly as the claim queries write them,
-- which is what lets SQLite use a partial index.
CREATE INDEX messages_due_outbound ON messages (next_attempt_at)
    WHERE direction = 'outbound' AND transport_state IN ('queued', 'retrying');
CREATE INDEX messages_due_inbound ON messages (next_attempt_at)
    WHERE direction = 'inbound' AND transport_state IN ('decoded', 'retrying');
CREATE INDEX messages_claims ON messages (direction, claim_expires_at)
    WHERE claimed_by IS NOT NULL;

-- Listing, newest first, by the filters an operator uses most.
CREATE INDEX messages_state ON messages (transport_state, id);
CREATE INDEX messages_agency ON messages (agency_oin, id);
CREATE INDEX messages_created ON messages (created_at);

-- The timeline and the audit log are history: nothing rewrites them. Events go
-- only with their message (ON DELETE CASCADE, when retention is built).
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only');
END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
    WHEN EXISTS (SELECT 1 FROM messages WHERE id = old.message_id)
BEGIN
    SELECT RAISE(ABORT, 'events are append-only');
END;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
