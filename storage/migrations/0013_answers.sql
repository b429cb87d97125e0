-- ready answers (模板 / 快捷回复): templates, their uses, and the 💬 flow's drafts
-- A template answers tickets of one category ('' = every category) for one action (open,
-- progress, done, reject). Those of the categories file and the shipped defaults carry a stable
-- file_key and are synced at start (removed ones get deleted_at); /template add writes 'chat'
-- ones. A deleted template keeps its row: its uses still count in /stats.
CREATE TABLE answer_templates (
    id          INTEGER PRIMARY KEY,
    category    TEXT NOT NULL DEFAULT '',     -- a category key, '' = every category
    action      TEXT NOT NULL CHECK (action IN ('open', 'progress', 'done', 'reject')),
    text        TEXT NOT NULL,
    keywords    TEXT NOT NULL DEFAULT '[]',   -- JSON list: open templates answer automatically
    source      TEXT NOT NULL CHECK (source IN ('file', 'chat')),
    file_key    TEXT UNIQUE,                  -- "<origin>|<category>|<action>|<n>" (file, default)
    created_by  INTEGER,
    created_at  TEXT NOT NULL,
    deleted_at  TEXT,
    deleted_by  INTEGER           -- removed by /template del: the sync at start brings
                                  -- back only what it removed itself
);
CREATE INDEX answer_templates_pick ON answer_templates (category, action) WHERE deleted_at IS NULL;

-- One use of a template on a ticket: sent from the 💬 flow, or the automatic answer (auto = 1,
-- recorded in the transaction that queues it under the dedupe key answer:auto:<ticket>).
CREATE TABLE answer_uses (
    id          INTEGER PRIMARY KEY,
    template_id INTEGER NOT NULL REFERENCES answer_templates(id),
    ticket_id   INTEGER REFERENCES tickets(id) ON DELETE SET NULL,
    grid_id     INTEGER NOT NULL,
    action      TEXT NOT NULL,
    auto        INTEGER NOT NULL DEFAULT 0 CHECK (auto IN (0, 1)),
    used_by     INTEGER,
    used_at     TEXT NOT NULL
);
CREATE INDEX answer_uses_template ON answer_uses (template_id);
CREATE INDEX answer_uses_at ON answer_uses (used_at, grid_id);

-- A preview or ForceReply prompt of the 💬 flow, in the officer's private chat; used once
-- (UPDATE … WHERE used_at IS NULL, in the ticket's move that sends it), so a double press or a
-- replay sends nothing twice. Only a reply to a prompt is words to send; a preview is sent by
-- its button. ↩️返回 deletes a preview's unused draft; the tick deletes old ones.
CREATE TABLE answer_drafts (
    id          INTEGER PRIMARY KEY,
    chat_id     INTEGER NOT NULL,
    message_id  INTEGER NOT NULL,
    user_id     INTEGER NOT NULL,
    ticket_id   INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    action      TEXT NOT NULL,
    template_id INTEGER REFERENCES answer_templates(id),
    text        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    used_at     TEXT,
    kind        TEXT NOT NULL DEFAULT 'prompt' CHECK (kind IN ('preview', 'prompt')),
    UNIQUE (chat_id, message_id)
);
CREATE INDEX answer_drafts_made ON answer_drafts (created_at);
