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

-- The part of the key after the row's own agency OIN and kind: the number, with its
-- mark if it has one (past the supplier KvK and its colon outbound, where
-- direction = 'outbound' is 1, inbound 0). Both columns are VIRTUAL, computed as
-- read and not stored; the index keeps the number.
ALTER TABLE messages ADD COLUMN key_number TEXT GENERATED ALWAYS AS (CASE
    WHEN substr(business_key, instr(business_key, ':') * (direction = 'outbound') + 1,
                length(agency_oin) + length(document_kind) + 2)
         = agency_oin || ':' || document_kind || ':'
        THEN substr(business_key, instr(business_key, ':') * (direction = 'outbound')
                                  + length(agency_oin) + length(document_kind) + 3)
END) VIRTUAL;

ALTER TABLE messages ADD COLUMN number TEXT GENERATED ALWAYS AS (CASE
    WHEN document_kind = 'timecard' AND length(key_number) > 28
         AND substr(key_number, length(key_number) - 27, 12) = ':correction:'
        THEN substr(key_number, 1, length(key_number) - 28)
    WHEN document_kind IN ('staffing-order', 'timecard') AND instr(key_number, ':status:') > 0
        THEN substr(key_number, 1, instr(key_number, ':status:') - 1)
    WHEN document_kind = 'human-resource' AND instr(key_number, ':order:') > 0
        THEN substr(key_number, 1, instr(key_number, ':order:') - 1)
    ELSE key_number
END) VIRTUAL;

CREATE INDEX messages_number ON messages (number, id);
