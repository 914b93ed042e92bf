-- Chargebacks (Stripe disputes). Opening one takes back what is unspent of the package its
-- payment bought, like a full refund; `refunded_before` is how much that package had already
-- had taken back, so that a dispute the merchant wins gives back exactly what the dispute took
-- (including credits taken later, when holds running at the time were released).
CREATE TABLE payment_disputes (
    id              TEXT PRIMARY KEY,
    payment         TEXT NOT NULL,
    refunded_before BIGINT NOT NULL,
    status          TEXT NOT NULL,
    opened_at       BIGINT NOT NULL,
    closed_at       BIGINT
);
