-- Prefix look-ups of business keys (a timecard's corrections, a staffing order's
-- closing, asked at the intake of invoices that name them) compare bytes: under the
-- database's own collation a range is not a prefix, and starts_with alone reads every
-- row. An index in the "C" collation serves the byte range.
CREATE INDEX messages_business_key_bytes ON messages ((business_key COLLATE "C"))
    WHERE business_key IS NOT NULL;
