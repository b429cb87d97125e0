-- updates already handled, so that one Telegram hands out again after a crash is skipped
-- A row is written in the same transaction as the first change an update makes (or right after
-- a handler that changed nothing but answered), so "handled" and "what it changed" commit
-- together. Telegram keeps an update for at most 24 hours; the tick forgets rows older than that.
CREATE TABLE handled_updates (
    update_id   BIGINT PRIMARY KEY,
    handled_at  TEXT NOT NULL
);
CREATE INDEX handled_updates_at ON handled_updates (handled_at);
