-- The number the issuer gave the document, for the message list's number filter: it
-- took each key apart row by row, so on a store of a million messages a search for
-- one invoice number read every message the other filters left. Indexed with the id,
-- which orders the list.
--
-- Derived from the business key, so every write of a key (at intake, or when an
-- inbound message is decoded) keeps it right, and the messages stored before have it
-- at once. A key is <supplier KvK>:<agency OIN>:<kind>:<number> outbound and
-- <agency OIN>:<kind>:<number> inbound, and a number may hold colons, so the number
-- is what follows the row's own agency OIN and kind (NULL where the key does not
-- name them). pipeline/keys.py marks some numbers, and the number is the one without
-- the mark: a corrected timecard's ends in :correction:<16 hex digits>; a rejected
-- timecard's and a closed staffing order's in :status:<status>, a staffing
-- confirmation's in :order:<order number> (cut at the first, as issued_number cuts).

-- A function, as the expression needs its parts more than once. PL/pgSQL, not SQL:
-- an SQL function that cannot be inlined costs some 29 us a row, this one 2.4, and
-- a stored generated column is computed again at every update of the row (a claim,
-- a send): three times per invoice on the hot path.
-- IMMUTABLE, as a generated column requires: it reads nothing but its arguments.
CREATE FUNCTION message_number(direction text, business_key text, agency_oin text,
                               document_kind text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    -- Past the supplier KvK and its colon, outbound.
    past_kvk integer := CASE WHEN direction = 'outbound' THEN strpos(business_key, ':')
                             ELSE 0 END;
    head text := agency_oin || ':' || document_kind || ':';
    rest text;  -- the number, with its mark if it has one
BEGIN
    IF substr(business_key, past_kvk + 1, length(head)) IS DISTINCT FROM head THEN
        RETURN NULL;
    END IF;
    rest := substr(business_key, past_kvk + length(head) + 1);
    IF document_kind = 'timecard' AND length(rest) > 28
            AND substr(rest, length(rest) - 27, 12) = ':correction:' THEN
        RETURN substr(rest, 1, length(rest) - 28);
    ELSIF document_kind IN ('staffing-order', 'timecard') AND strpos(rest, ':status:') > 0 THEN
        RETURN substr(rest, 1, strpos(rest, ':status:') - 1);
    ELSIF document_kind = 'human-resource' AND strpos(rest, ':order:') > 0 THEN
        RETURN substr(rest, 1, strpos(rest, ':order:') - 1);
    END IF;
    RETURN rest;
END
$$;

-- STORED, the only kind PostgreSQL has: the upgrade writes it into every row.
ALTER TABLE messages ADD COLUMN number text GENERATED ALWAYS AS (
    message_number(direction, business_key, agency_oin, document_kind)) STORED;

CREATE INDEX messages_number ON messages (number, id);
