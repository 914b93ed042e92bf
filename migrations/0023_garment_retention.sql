-- Garments taken from a product link are deleted a while after they were fetched (issue 19,
-- `garments::sweep_expired`): the sweep reads them oldest first.
CREATE INDEX garments_by_age ON garments (created_at);
