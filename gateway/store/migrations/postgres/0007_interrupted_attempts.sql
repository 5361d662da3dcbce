-- An attempt the gateway cut off itself (it stopped while the channel's send was in
-- flight) is recorded as 'interrupted': the transport may have received it, and an
-- operator asked about a document the agency got twice must see that it was started.
-- The constraint only widens, so the rows already there need no check.
ALTER TABLE attempts DROP CONSTRAINT attempts_outcome_check;
ALTER TABLE attempts ADD CONSTRAINT attempts_outcome_check
    CHECK (outcome IN ('accepted', 'retryable', 'final', 'interrupted')) NOT VALID;
