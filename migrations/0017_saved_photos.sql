-- Person photos a shopper keeps to try on again (issue 21). Each is its own object in storage
-- (`photos/<user>/<id>.<ext>`), apart from any generation's inputs, so input retention never
-- touches it; it goes when the shopper deletes it or the account.
CREATE TABLE saved_photos (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users (id),
    storage_key   TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);
CREATE INDEX saved_photos_by_user ON saved_photos (user_id, created_at);
