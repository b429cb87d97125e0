-- reminders, escalations, follow-ups (回访), ratings and the outbox of scheduled messages
ALTER TABLE tickets ADD COLUMN rated_at TEXT;                 -- when 满意/基本满意/不满意/未评价 was set
ALTER TABLE tickets ADD COLUMN followup_due TEXT;             -- ask the reporter at this time (pending)
ALTER TABLE tickets ADD COLUMN followup_asked_at TEXT;        -- asked; the answer window runs from here
ALTER TABLE tickets ADD COLUMN followup_reminded_at TEXT;     -- the one reminder went out
ALTER TABLE tickets ADD COLUMN response_reminded_at TEXT;     -- "deadline near" reminder went out
ALTER TABLE tickets ADD COLUMN response_overdue_at TEXT;      -- "deadline passed" reminder went out
ALTER TABLE tickets ADD COLUMN escalation_level INTEGER NOT NULL DEFAULT 0;  -- 0, 1 community, 2 street
ALTER TABLE tickets ADD COLUMN escalated_at TEXT;

CREATE INDEX tickets_response_due ON tickets (response_due) WHERE status = 'new';
CREATE INDEX tickets_resolution_due ON tickets (resolution_due) WHERE status IN ('new', 'accepted');
CREATE INDEX tickets_followup_due ON tickets (followup_due) WHERE followup_due IS NOT NULL;
CREATE INDEX tickets_followup_asked ON tickets (followup_asked_at)
    WHERE status = 'resolved' AND followup_asked_at IS NOT NULL;
CREATE INDEX tickets_resolved_at ON tickets (resolved_at) WHERE resolved_at IS NOT NULL;
CREATE INDEX tickets_rated_at ON tickets (rated_at) WHERE rated_at IS NOT NULL;
CREATE INDEX tickets_accepted_at ON tickets (accepted_at) WHERE accepted_at IS NOT NULL;

-- A chat the bot can no longer post in (removed, blocked) is marked and skipped.
ALTER TABLE chats ADD COLUMN reachable INTEGER NOT NULL DEFAULT 1 CHECK (reachable IN (0, 1));

-- Every message the bot sends on its own initiative, written in the transaction that causes it.
CREATE TABLE outbox (
    id          INTEGER PRIMARY KEY,
    chat_id     INTEGER NOT NULL,
    kind        TEXT NOT NULL,          -- receipt, reminder, escalation, followup, digest, chart, notice
    text        TEXT NOT NULL DEFAULT '',
    payload     TEXT NOT NULL DEFAULT '{}',  -- JSON: reply_to, thread_id, keyboard, ticket ids
    attachment  BLOB,                   -- a PNG for charts
    ticket_id   INTEGER REFERENCES tickets(id) ON DELETE SET NULL,
    dedupe_key  TEXT UNIQUE,            -- the same reminder/digest is queued once, whatever happens
    created_at  TEXT NOT NULL,
    not_before  TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    status      TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'sent', 'failed', 'dropped')),
    sent_at     TEXT,
    message_id  INTEGER,
    last_error  TEXT
);
CREATE INDEX outbox_pending ON outbox (not_before, id) WHERE status = 'pending';
CREATE INDEX outbox_chat ON outbox (chat_id, status);
