-- Who has the turn at work every gateway instance on the database would otherwise
-- do at once: a channel's status poll round (N instances asked Digipoort N times
-- about every waiting message). A holder renews its lease before expires_at; once
-- that passed, any instance may take it, so a holder that died hands over by itself.
-- expires_at is by the server's clock: the instances' clocks need not agree.
CREATE TABLE leases (
    name       text PRIMARY KEY,
    holder     text NOT NULL,
    expires_at timestamptz NOT NULL
);
