-- Sent outbound messages still waiting for a status, by channel and business
-- state, oldest first: what the channels' pollers ask for every few seconds.
-- Sent messages only grow in number; without this the pollers read them all
-- to find the few that still wait.
CREATE INDEX messages_waiting ON messages (channel, business_state, id)
    WHERE direction = 'outbound' AND transport_state = 'sent';
