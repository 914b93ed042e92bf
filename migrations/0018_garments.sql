-- Garments a shopper took from a shop's product page (issue 21): the picture, kept as the
-- shopper's own object (`garments/<user>/<id>.<ext>`), the page it came from and its title.
CREATE TABLE garments (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users (id),
    storage_key   TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    source_url    TEXT NOT NULL,
    title         TEXT,
    created_at    BIGINT NOT NULL
);
CREATE INDEX garments_by_user ON garments (user_id, created_at);
