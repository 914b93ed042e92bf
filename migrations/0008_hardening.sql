-- Hardening (issue 17).
--
-- An Idempotency-Key names one request: the digest of its fields and file bytes is kept, so that
-- the same key with another request is refused instead of answered with the first job. Jobs from
-- before have none and are answered as before.
ALTER TABLE jobs ADD COLUMN request_digest TEXT;

-- One mailbox, one account, whatever the case: addresses are compared lower-cased. Should two
-- accounts already differ only by case, the later one is renamed out of the way (its address
-- gains `#duplicate-<id>`, which no sign-in can type) so that the unique index can be built;
-- the operator can merge them by hand.
UPDATE users SET email = email || '#duplicate-' || id
WHERE EXISTS (
    SELECT 1 FROM users o
    WHERE lower(o.email) = lower(users.email)
      AND (o.created_at < users.created_at OR (o.created_at = users.created_at AND o.id < users.id))
);
CREATE UNIQUE INDEX users_by_lower_email ON users (lower(email));

-- A refund that arrives before the purchase it refunds was granted (Stripe does not order its
-- events): its level is kept by payment reference and applied when the grant arrives.
CREATE TABLE pending_refunds (
    payment     TEXT PRIMARY KEY,
    refunded    BIGINT NOT NULL,
    paid        BIGINT NOT NULL,
    received_at BIGINT NOT NULL
);
