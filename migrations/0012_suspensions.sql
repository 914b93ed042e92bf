-- An admin may suspend an account (issue 20): its sessions end and sign-in is refused with
-- `account_suspended` until it is unsuspended. The reason is also in the audit log.
ALTER TABLE users ADD COLUMN suspended_at BIGINT;
ALTER TABLE users ADD COLUMN suspended_reason TEXT;
