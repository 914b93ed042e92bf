-- Operators (issue 20): a user is an admin from `admin_since`, set by `fitroom admin add` and
-- cleared by `fitroom admin remove`. NULL for everyone else.
ALTER TABLE users ADD COLUMN admin_since BIGINT;
