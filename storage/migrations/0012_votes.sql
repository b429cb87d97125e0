-- 议事: household votes. A household is a door of the grid ("3-2-501": building-unit-room,
-- "3-501" without a unit); people tie themselves to one (/room), an officer confirms or
-- corrects. A vote snapshots its eligible households at start (vote_households), sends one
-- native non-anonymous poll (vote_polls: normally one; a crash between Telegram accepting it
-- and the outbox row being marked sent may make a second, and both count), keeps every answer
-- (vote_answers: option NULL = a retraction; proxy rows name the household, user_id = the
-- officer), and at close writes each household's final answer and the result (JSON), guarded
-- by status = 'open' so that exactly one closer wins. History in vote_events.
CREATE TABLE households (
    id          INTEGER PRIMARY KEY,
    grid_id     INTEGER NOT NULL REFERENCES grids(id),
    label       TEXT NOT NULL,                    -- canonical: 3-2-501 / 3-501
    building    TEXT NOT NULL,
    unit        TEXT,
    room        TEXT NOT NULL,
    created_by  INTEGER,
    created_at  TEXT NOT NULL,
    vouched     INTEGER NOT NULL DEFAULT 0,       -- 1: an officer added it or set/confirmed a member
    removed_at  TEXT,                         -- an officer removed it: no new vote counts it
    removed_by  INTEGER,
    UNIQUE (grid_id, label)
);

CREATE TABLE household_members (
    id            INTEGER PRIMARY KEY,
    grid_id       INTEGER NOT NULL REFERENCES grids(id),
    household_id  INTEGER NOT NULL REFERENCES households(id),
    user_id       INTEGER NOT NULL,
    user_name     TEXT NOT NULL DEFAULT '',
    status        TEXT NOT NULL CHECK (status IN ('claimed', 'confirmed')),
    set_by        INTEGER,
    set_at        TEXT NOT NULL,
    UNIQUE (grid_id, user_id)                     -- one room per person per grid
);
CREATE INDEX household_members_household ON household_members (household_id);

-- who tied whom to which household, and when (tie, move, set, confirm, untie, add, remove)
CREATE TABLE household_events (
    id            INTEGER PRIMARY KEY,
    grid_id       INTEGER NOT NULL REFERENCES grids(id),
    household_id  INTEGER REFERENCES households(id),
    kind          TEXT NOT NULL,
    user_id       INTEGER,                          -- whom (NULL: the household itself)
    user_name     TEXT NOT NULL DEFAULT '',
    actor_id      INTEGER,                          -- who (NULL: unknown / the system)
    note          TEXT NOT NULL DEFAULT '',
    at            TEXT NOT NULL
);
CREATE INDEX household_events_grid ON household_events (grid_id, at);

CREATE TABLE votes (
    id                 INTEGER PRIMARY KEY,
    grid_id            INTEGER NOT NULL REFERENCES grids(id),
    chat_id            INTEGER NOT NULL,          -- the grid's group, where the poll is
    thread_id          INTEGER,                   -- its forum topic
    question           TEXT NOT NULL,
    options            TEXT NOT NULL,             -- JSON list; the first is the one the rule counts
    rule_num           INTEGER NOT NULL,
    rule_den           INTEGER NOT NULL,
    rule_strict        INTEGER NOT NULL,          -- 1: more than num/den; 0: at least
    quorum_num         INTEGER,
    quorum_den         INTEGER,
    scope              TEXT NOT NULL DEFAULT '',  -- '' every household, else a label prefix (3-2)
    deadline           TEXT NOT NULL,
    status             TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    started_by         INTEGER,
    started_by_name    TEXT NOT NULL DEFAULT '',
    started_at         TEXT NOT NULL,
    eligible           INTEGER NOT NULL DEFAULT 0, -- households in the snapshot
    closed_at          TEXT,
    closed_by          INTEGER,                   -- NULL: the deadline
    closed_by_name     TEXT NOT NULL DEFAULT '',
    result             TEXT,                      -- JSON: counts, voted, eligible, passed …
                                                  -- (failed: the poll could not be sent)
    source_chat_id     INTEGER,                   -- the /vote message (a replay starts nothing)
    source_message_id  INTEGER,
    UNIQUE (source_chat_id, source_message_id)
);
CREATE INDEX votes_open ON votes (deadline) WHERE status = 'open';
CREATE INDEX votes_grid ON votes (grid_id, started_at);

CREATE TABLE vote_polls (
    id          INTEGER PRIMARY KEY,
    vote_id     INTEGER NOT NULL REFERENCES votes(id),
    poll_id     TEXT NOT NULL UNIQUE,             -- Telegram's poll id (poll_answer updates)
    chat_id     INTEGER NOT NULL,
    message_id  INTEGER NOT NULL,
    sent_at     TEXT NOT NULL
);
CREATE INDEX vote_polls_vote ON vote_polls (vote_id);

CREATE TABLE vote_households (
    vote_id        INTEGER NOT NULL REFERENCES votes(id),
    household_id   INTEGER NOT NULL REFERENCES households(id),
    label          TEXT NOT NULL,
    final_option   INTEGER,                       -- NULL: no answer (or not closed yet)
    final_user_id  INTEGER,
    final_name     TEXT NOT NULL DEFAULT '',
    final_proxy    INTEGER NOT NULL DEFAULT 0,
    final_note     TEXT NOT NULL DEFAULT '',
    final_at       TEXT,
    PRIMARY KEY (vote_id, household_id)
);

CREATE TABLE vote_answers (
    id                  INTEGER PRIMARY KEY,
    vote_id             INTEGER NOT NULL REFERENCES votes(id),
    user_id             INTEGER,
    user_name           TEXT NOT NULL DEFAULT '',
    option              INTEGER,                  -- NULL: a retraction (a proxy: withdrawn)
    proxy_household_id  INTEGER REFERENCES households(id),
    note                TEXT NOT NULL DEFAULT '',
    answered_at         TEXT NOT NULL,
    poll_id             TEXT
);
CREATE INDEX vote_answers_vote ON vote_answers (vote_id, id);

CREATE TABLE vote_events (
    id          INTEGER PRIMARY KEY,
    vote_id     INTEGER NOT NULL REFERENCES votes(id),
    kind        TEXT NOT NULL,                    -- storage.vocabulary.VoteEventKind
    actor_id    INTEGER,
    actor_name  TEXT NOT NULL DEFAULT '',
    note        TEXT NOT NULL DEFAULT '',
    at          TEXT NOT NULL
);
CREATE INDEX vote_events_vote ON vote_events (vote_id, at);
