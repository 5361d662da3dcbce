-- Whether the channel's poller still asks about a sent message. A final status
-- (StatusReport.final: Digipoort's polling-stopped on a message the agency has,
-- that stays sent / delivered-to-agency) ends the asking for that send; the next
-- send starts a new story and follows it again. Without the flag such messages
-- stayed on the waiting list for good and took a poller's places every round.
-- 1 or 0: SQLite has no boolean type.
ALTER TABLE messages ADD COLUMN status_followed INTEGER NOT NULL DEFAULT 1
    CHECK (status_followed IN (0, 1));

-- Messages an earlier version already stopped asking about: a final status since
-- their latest send. Only those on the waiting list; the others are not listed
-- whatever the flag says, and need not be rewritten.
UPDATE messages SET status_followed = 0
WHERE direction = 'outbound' AND transport_state = 'sent'
  AND business_state IN ('none', 'delivered-to-agency')
  AND EXISTS (
      SELECT 1 FROM events e
      WHERE e.message_id = messages.id AND e.kind = 'status'
        AND json_extract(e.detail, '$.final') = 1
        AND e.seq > (SELECT coalesce(max(s.seq), 0) FROM events s
                     WHERE s.message_id = messages.id AND s.kind = 'sent'));

-- The pollers' list leaves them out, and so does its index.
DROP INDEX messages_waiting;
CREATE INDEX messages_waiting ON messages (channel, business_state, id)
    WHERE direction = 'outbound' AND transport_state = 'sent' AND status_followed = 1;
