-- Whether the channel's poller still asks about a sent message. A final status
-- (StatusReport.final: Digipoort's polling-stopped on a message the agency has,
-- that stays sent / delivered-to-agency) ends the asking for that send; the next
-- send starts a new story and follows it again. Without the flag such messages
-- stayed on the waiting list for good and took a poller's places every round.
-- A column default is a catalog change: existing rows are not rewritten.
ALTER TABLE messages ADD COLUMN status_followed boolean NOT NULL DEFAULT true;

-- Messages an earlier version already stopped asking about: a final status since
-- their latest send. Only those on the waiting list; the others are not listed
-- whatever the flag says, and need not be rewritten.
UPDATE messages m SET status_followed = false
WHERE m.direction = 'outbound' AND m.transport_state = 'sent'
  AND m.business_state IN ('none', 'delivered-to-agency')
  AND EXISTS (
      SELECT 1 FROM events e
      WHERE e.message_id = m.id AND e.kind = 'status' AND e.detail -> 'final' = 'true'
        AND e.seq > (SELECT coalesce(max(s.seq), 0) FROM events s
                     WHERE s.message_id = m.id AND s.kind = 'sent'));

-- The pollers' list leaves them out, and so does its index.
DROP INDEX messages_waiting;
CREATE INDEX messages_waiting ON messages (channel, business_state, id)
    WHERE direction = 'outbound' AND transport_state = 'sent' AND status_followed;
