-- offers (登记提示): an untagged message that reads like a problem, and the bot's question
-- An offer is answered once: the press that wins `UPDATE … WHERE status = 'open'` opens the
-- ticket in the same transaction. The resident's text is kept (Telegram does not give it back
-- at press time) until the offer is answered or expires; then it is blanked.
CREATE TABLE offers (
    id                INTEGER PRIMARY KEY,
    chat_id           INTEGER NOT NULL,
    message_id        INTEGER NOT NULL,          -- the resident's message
    thread_id         INTEGER,                   -- its forum topic
    grid_id           INTEGER NOT NULL REFERENCES grids(id),
    writer_id         INTEGER,
    writer_name       TEXT NOT NULL DEFAULT '',
    text              TEXT NOT NULL,             -- the resident's words, '' once answered or expired
    media             TEXT NOT NULL DEFAULT '[]',  -- JSON: a photo's or document's file, if any
    media_group_id    TEXT,
    sent_at           TEXT NOT NULL,             -- when the resident wrote it
    categories        TEXT NOT NULL,             -- JSON: likely category keys, likeliest first
    offer_message_id  INTEGER,                   -- the bot's question (NULL until sent)
    created_at        TEXT NOT NULL,
    status            TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'accepted', 'expired')),
    accepted_at       TEXT,
    accepted_by       INTEGER,
    ticket_id         INTEGER REFERENCES tickets(id) ON DELETE SET NULL,
    UNIQUE (chat_id, message_id)
);
CREATE INDEX offers_chat_created ON offers (chat_id, created_at);
CREATE INDEX offers_grid_created ON offers (grid_id, created_at);
CREATE INDEX offers_grid_accepted ON offers (grid_id, accepted_at) WHERE accepted_at IS NOT NULL;
CREATE INDEX offers_open ON offers (created_at) WHERE status = 'open';
CREATE INDEX offers_question ON offers (chat_id, offer_message_id);

-- Officers turn offers off and on per group (/offers off|on); the flag moves with the chat row
-- when a group becomes a supergroup.
ALTER TABLE chats ADD COLUMN offers INTEGER NOT NULL DEFAULT 1 CHECK (offers IN (0, 1));
