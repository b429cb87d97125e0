-- streets, communities, grids, chat bindings, tickets with their media and history
CREATE TABLE streets (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL
);

CREATE TABLE communities (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    street_id   INTEGER REFERENCES streets(id),
    created_at  TEXT NOT NULL
);

CREATE TABLE grids (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL,
    community_id  INTEGER NOT NULL REFERENCES communities(id),
    created_at    TEXT NOT NULL,
    UNIQUE (community_id, name)
);

-- One row per Telegram group the bot has been bound in; active = 0 after /unbind.
CREATE TABLE chats (
    chat_id       INTEGER PRIMARY KEY,
    title         TEXT NOT NULL DEFAULT '',
    kind          TEXT NOT NULL CHECK (kind IN ('grid', 'supervisor')),
    grid_id       INTEGER REFERENCES grids(id),
    community_id  INTEGER REFERENCES communities(id),
    street_id     INTEGER REFERENCES streets(id),
    active        INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    bound_by      INTEGER,
    bound_at      TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    CHECK (kind <> 'grid' OR grid_id IS NOT NULL),
    CHECK (kind <> 'supervisor' OR community_id IS NOT NULL OR street_id IS NOT NULL)
);
-- A grid has at most one active group chat.
CREATE UNIQUE INDEX chats_one_active_per_grid ON chats (grid_id) WHERE active = 1 AND kind = 'grid';

-- Occasional notices the bot posts at most once per interval per chat (e.g. "this group is not bound").
CREATE TABLE chat_notices (
    chat_id  INTEGER NOT NULL,
    kind     TEXT NOT NULL,
    sent_at  TEXT NOT NULL,
    PRIMARY KEY (chat_id, kind)
);

CREATE TABLE tickets (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    grid_id             INTEGER NOT NULL REFERENCES grids(id),
    chat_id             INTEGER NOT NULL,
    message_id          INTEGER NOT NULL,
    thread_id           INTEGER,
    media_group_id      TEXT,
    source              TEXT NOT NULL DEFAULT 'chat' CHECK (source IN ('chat', 'patrol')),
    category            TEXT NOT NULL,
    labels              TEXT NOT NULL DEFAULT '[]',   -- JSON list of the other tags
    text                TEXT NOT NULL,                -- the message as the resident wrote it
    body                TEXT NOT NULL,
    estate              TEXT,
    building            TEXT,
    unit                TEXT,
    room                TEXT,
    reporter_id         INTEGER,
    reporter_name       TEXT NOT NULL,
    status              TEXT NOT NULL DEFAULT 'new'
                        CHECK (status IN ('new', 'accepted', 'resolved', 'closed', 'rejected', 'duplicate')),
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    response_due        TEXT NOT NULL,
    resolution_due      TEXT NOT NULL,
    receipt_message_id  INTEGER,
    UNIQUE (chat_id, message_id)
);
CREATE INDEX tickets_grid_status ON tickets (grid_id, status, created_at);
CREATE INDEX tickets_media_group ON tickets (chat_id, media_group_id) WHERE media_group_id IS NOT NULL;

CREATE TABLE ticket_media (
    id              INTEGER PRIMARY KEY,
    ticket_id       INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    chat_id         INTEGER NOT NULL,
    message_id      INTEGER NOT NULL,
    kind            TEXT NOT NULL,
    file_id         TEXT NOT NULL,
    file_unique_id  TEXT NOT NULL,
    added_at        TEXT NOT NULL,
    UNIQUE (chat_id, message_id)
);
CREATE INDEX ticket_media_ticket ON ticket_media (ticket_id);

-- Album items that arrived before the captioned item that carries the tag.
CREATE TABLE album_parts (
    chat_id         INTEGER NOT NULL,
    message_id      INTEGER NOT NULL,
    media_group_id  TEXT NOT NULL,
    kind            TEXT NOT NULL,
    file_id         TEXT NOT NULL,
    file_unique_id  TEXT NOT NULL,
    received_at     TEXT NOT NULL,
    PRIMARY KEY (chat_id, message_id)
);
CREATE INDEX album_parts_group ON album_parts (chat_id, media_group_id);

CREATE TABLE ticket_events (
    id           INTEGER PRIMARY KEY,
    ticket_id    INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    at           TEXT NOT NULL,
    actor_id     INTEGER,
    actor_name   TEXT NOT NULL DEFAULT '',
    kind         TEXT NOT NULL,
    from_status  TEXT,
    to_status    TEXT,
    note         TEXT NOT NULL DEFAULT ''
);
CREATE INDEX ticket_events_ticket ON ticket_events (ticket_id, id);
