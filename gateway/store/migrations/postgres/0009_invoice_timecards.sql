-- The hours each outbound invoice line bills on a timecard, so that the intake of the
-- next invoice on that timecard can count what earlier ones billed: the agency refuses
-- a second invoice for hours it approved once. One row per line naming a timecard,
-- written in the statement that stores the invoice; credit notes' hours negative.
-- Which lines are hours (not a meal) is judged at intake, against the timecard as it
-- stands then, so the unit is kept.
CREATE TABLE invoice_timecards (
    message_id     text NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    line           integer NOT NULL,      -- the line's position in the invoice, from 0
    agency_oin     text NOT NULL,
    timecard_id    text NOT NULL,
    invoice_number text NOT NULL,
    order_line     text,
    unit_code      text NOT NULL,
    hours          numeric NOT NULL,
    PRIMARY KEY (message_id, line)
);

CREATE INDEX invoice_timecards_card ON invoice_timecards (agency_oin, timecard_id);

-- The invoices stored before: without them an invoice sent last week would not count,
-- and the first one after the upgrade could bill its hours again. Only messages our
-- checks passed (a rejected one may hold text that is no JSON, and never counts).
INSERT INTO invoice_timecards (message_id, line, agency_oin, timecard_id, invoice_number,
                               order_line, unit_code, hours)
SELECT m.id, (l.n - 1)::integer, m.agency_oin, l.value ->> 'timecard_reference',
       d.doc ->> 'number', l.value ->> 'order_line_reference',
       l.value -> 'quantity' ->> 'unit_code',
       CASE WHEN d.doc ->> 'type' = 'credit' THEN -1 ELSE 1 END
           * (l.value -> 'quantity' ->> 'value')::numeric
FROM messages m
JOIN payloads p ON p.message_id = m.id
CROSS JOIN LATERAL (SELECT p.canonical_json::jsonb AS doc) AS d
CROSS JOIN LATERAL jsonb_array_elements(
    CASE WHEN jsonb_typeof(d.doc -> 'lines') = 'array' THEN d.doc -> 'lines' ELSE '[]' END
) WITH ORDINALITY AS l(value, n)
WHERE m.direction = 'outbound' AND m.document_kind IN ('invoice', 'credit-note')
  AND m.transport_state <> 'rejected' AND m.agency_oin IS NOT NULL
  AND p.canonical_json IS NOT NULL
  AND jsonb_typeof(l.value -> 'timecard_reference') = 'string'
  AND jsonb_typeof(d.doc -> 'number') = 'string'
  AND jsonb_typeof(l.value -> 'quantity' -> 'value') = 'string'
  AND jsonb_typeof(l.value -> 'quantity' -> 'unit_code') = 'string';
