-- Abuse limits shared by every process (issue 22): one GCRA bucket per limit and key, kept as
-- its theoretical arrival time (`tat`, unix ms); a key whose `tat` has passed has its whole budget
-- again and its row can go. `refused` says whether the last attempt was refused (what the upsert
-- that counts an attempt answers).
CREATE TABLE rate_limits (
    scope    TEXT NOT NULL,
    key      TEXT NOT NULL,
    tat      BIGINT NOT NULL,
    refused  BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (scope, key)
);
CREATE INDEX rate_limits_by_tat ON rate_limits (tat);
