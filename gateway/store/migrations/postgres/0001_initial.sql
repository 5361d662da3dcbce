-- Messages, their payloads, timelines and attempts, and the configuration audit log.

CREATE TABLE messages (
    id               text PRIMARY KEY,       -- ULID: sorts by creation time
    direction        text NOT NULL CHECK (direction IN ('outbound', 'inbound')),
    business_key     text,
    agency_oin       text,
    document_kind    text,
    format_key       text,
    channel          text,
    transport_state  text NOT NULL,
    business_state   text NOT NULL DEFAULT 'none',
    attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts     integer NOT NULL CHECK (max_attempts >= 1),
    next_attempt_at  timestamptz,
    transport_id     text,
    transport_ids    text[] NOT NULL DEFAULT '{}',  -- in the order they were given
    routing          jsonb,                         -- the route decision and its reasons
    validation       jsonb,                         -- the validation report
    last_error       text,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    claimed_by       text,
    claim_expires_at timestamptz,
    last_event_seq   integer NOT NULL DEFAULT 0,
    CHECK ((claimed_by IS NULL) = (claim_expires_at IS NULL))
);

-- Payloads apart: message rows stay small, so claiming and listing stay cheap
-- (TOAST would move large values out of line anyway; this keeps both backends alike).
CREATE TABLE payloads (
    message_id     text PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
    raw_payload    bytea,
    canonical_json text
);

CREATE TABLE events (
    message_id      text NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    seq             integer NOT NULL,
    at              timestamptz NOT NULL,
    kind            text NOT NULL,
    transport_state text,
    business_state  text,
    detail          jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (message_id, seq)
);

CREATE TABLE attempts (
    message_id   text NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    number       integer NOT NULL,
    started_at   timestamptz NOT NULL,
    finished_at  timestamptz NOT NULL,
    outcome      text NOT NULL CHECK (outcome IN ('accepted', 'retryable', 'final')),
    code         text,
    detail       text NOT NULL DEFAULT '',
    transport_id text,
    PRIMARY KEY (message_id, number)
);

-- Every id a transport gave, so a status report naming any of them finds its message.
CREATE TABLE transport_refs (
    channel      text NOT NULL,
    transport_id text NOT NULL,
    message_id   text NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    PRIMARY KEY (channel, transport_id, message_id)
);
CREATE INDEX transport_refs_message ON transport_refs (message_id);

CREATE TABLE audit_log (
    seq     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at      timestamptz NOT NULL,
    actor   text NOT NULL,
    action  text NOT NULL,
    subject text,
    reason  text,
    detail  jsonb NOT NULL DEFAULT '{}'
);

-- Idempotency: one live message per direction and business key, also across
-- gateway instances. Rejected documents and inbound repeats step aside.
CREATE UNIQUE INDEX messages_business_key_live ON messages (direction, business_key)
    WHERE business_key IS NOT NULL AND transport_state NOT IN ('rejected', 'duplicate');
CREATE INDEX messages_business_key ON messages (business_key) WHERE business_key IS NOT NULL;

-- Inbound dedupe: a channel that delivers the same transport id twice gets the first message.
CREATE UNIQUE INDEX messages_inbound_transport ON messages (channel, transport_id)
    WHERE direction = 'inbound' AND transport_id IS NOT NULL;

-- Claiming.
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
CREATE FUNCTION wissel_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Nested: plpgsql may evaluate both sides of an AND, and audit_log has no message_id.
    IF TG_OP = 'DELETE' AND TG_TABLE_NAME = 'events' THEN
        IF NOT EXISTS (SELECT 1 FROM messages WHERE id = OLD.message_id) THEN
            RETURN OLD;
        END IF;
    END IF;
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END
$$;
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION wissel_append_only();
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION wissel_append_only();
