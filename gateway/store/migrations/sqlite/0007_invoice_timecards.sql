-- The hours each outbound invoice line bills on a timecard, so that the intake of the
-- next invoice on that timecard can count what earlier ones billed: the agency refuses
-- a second invoice for hours it approved once. One row per line naming a timecard,
-- written in the transaction that stores the invoice; credit notes' hours negative.
-- Which lines are hours (not a meal) is judged at intake, against the timecard as it
-- stands then, so the unit is kept.
CREATE TABLE invoice_timecards (
    message_id     TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    line           INTEGER NOT NULL,      -- the line's position in the invoice, from 0
    agency_oin     TEXT NOT NULL,
    timecard_id    TEXT NOT NULL,
    invoice_number TEXT NOT NULL,
    order_line     TEXT,
    unit_code      TEXT NOT NULL,
    hours          TEXT NOT NULL,         -- a decimal, as text: SQLite has none exact
    PRIMARY KEY (message_id, line)
) WITHOUT ROWID;

CREATE INDEX invoice_timecards_card ON invoice_timecards (agency_oin, timecard_id);

-- The invoices stored before: without them an invoice sent last week would not count,
-- and the first one after the upgrade could bill its hours again. Only messages our
-- checks passed (a rejected one may hold text that is no JSON, and never counts).
INSERT INTO invoice_timecards (message_id, line, agency_oin, timecard_id, invoice_number,
                               order_line, unit_code, hours)
SELECT m.id, CAST(l.key AS INTEGER), m.agency_oin, json_extract(l.value, '$.timecard_reference'),
       json_extract(p.canonical_json, '$.number'),
       json_extract(l.value, '$.order_line_reference'),
       json_extract(l.value, '$.quantity.unit_code'),
       CASE WHEN json_extract(p.canonical_json, '$.type') = 'credit'
            THEN '-' || json_extract(l.value, '$.quantity.value')
            ELSE json_extract(l.value, '$.quantity.value') END
FROM messages m
JOIN payloads p ON p.message_id = m.id
JOIN json_each(p.canonical_json, '$.lines') AS l
WHERE m.direction = 'outbound' AND m.document_kind IN ('invoice', 'credit-note')
  AND m.transport_state <> 'rejected' AND m.agency_oin IS NOT NULL
  AND json_valid(p.canonical_json)
  AND json_type(l.value, '$.timecard_reference') = 'text'
  AND json_type(p.canonical_json, '$.number') = 'text'
  AND json_type(l.value, '$.quantity.value') = 'text'
  AND json_type(l.value, '$.quantity.unit_code') = 'text';
