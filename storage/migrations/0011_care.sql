-- 关爱走访: the roster of people visited regularly, their visits, and what falls due
-- A person belongs to one grid and has a tier (its cadence and grace window come from the
-- categories file, [care.tiers.<name>]). What is owed is a row of care_dues: one open `cycle`
-- due per active person (the next regular visit) and one `round` due per person of an extra
-- round (heat wave, holiday). A visit settles the person's open dues; the tick reminds the
-- visitor of a due (reminded_at) and escalates one missed past its window (escalation_level),
-- each a guarded update in one transaction with its history row (care_events) and messages.
-- Names, addresses and notes live only here: never in a resident group, never logged at INFO.
CREATE TABLE care_people (
    id              INTEGER PRIMARY KEY,
    grid_id         INTEGER NOT NULL REFERENCES grids(id),
    name            TEXT NOT NULL,                -- 称呼
    address         TEXT NOT NULL DEFAULT '',
    tier            TEXT NOT NULL,                -- a tier's name (高风险 重点 一般 or the file's)
    visitor_id      INTEGER,                      -- who visits (Telegram user id)
    visitor_name    TEXT NOT NULL DEFAULT '',
    contact         TEXT NOT NULL DEFAULT '',     -- emergency contact (name and number)
    notes           TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused', 'ended')),
    status_note     TEXT NOT NULL DEFAULT '',     -- why paused or ended
    missed_in_row   INTEGER NOT NULL DEFAULT 0,   -- 未见到 visits since the person was last seen
    last_visit_at   TEXT,
    created_by      INTEGER,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX care_people_grid ON care_people (grid_id, status);
CREATE INDEX care_people_visitor ON care_people (visitor_id, status);

CREATE TABLE care_rounds (
    id              INTEGER PRIMARY KEY,
    name            TEXT NOT NULL,                -- 高温, 寒潮, 春节 …
    tier            TEXT NOT NULL,
    started_by      INTEGER,
    started_by_name TEXT NOT NULL DEFAULT '',
    started_at      TEXT NOT NULL,
    deadline        TEXT NOT NULL,
    people          INTEGER NOT NULL DEFAULT 0    -- dues it created
);

CREATE TABLE care_visits (
    id              INTEGER PRIMARY KEY,
    person_id       INTEGER NOT NULL REFERENCES care_people(id),
    grid_id         INTEGER NOT NULL REFERENCES grids(id),
    visited_at      TEXT NOT NULL,
    visitor_id      INTEGER,
    visitor_name    TEXT NOT NULL DEFAULT '',
    way             TEXT NOT NULL,                -- bot.care.Way
    outcome         TEXT NOT NULL,                -- bot.care.Outcome
    note            TEXT NOT NULL DEFAULT '',
    photos          TEXT NOT NULL DEFAULT '[]',   -- JSON list of Telegram file ids
    ticket_id       INTEGER REFERENCES tickets(id),
    source_chat_id  INTEGER,                      -- the message that recorded it (a replay
    source_message_id INTEGER                     -- records it once)
);
CREATE INDEX care_visits_person ON care_visits (person_id, visited_at);
CREATE INDEX care_visits_at ON care_visits (visited_at);
CREATE UNIQUE INDEX care_visits_source ON care_visits (source_chat_id, source_message_id);

CREATE TABLE care_dues (
    id               INTEGER PRIMARY KEY,
    person_id        INTEGER NOT NULL REFERENCES care_people(id),
    grid_id          INTEGER NOT NULL REFERENCES grids(id),
    kind             TEXT NOT NULL CHECK (kind IN ('cycle', 'round')),
    round_id         INTEGER REFERENCES care_rounds(id),
    due_at           TEXT NOT NULL,
    window_end       TEXT NOT NULL,               -- due_at + the tier's grace (a round: its deadline)
    period_seconds   INTEGER NOT NULL,            -- the street hears one period after the window
    status           TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done', 'missed', 'cancelled')),
    done_at          TEXT,
    visit_id         INTEGER REFERENCES care_visits(id),
    reminded_at      TEXT,
    escalation_level INTEGER NOT NULL DEFAULT 0,  -- 1 the community's office, 2 the street's
    escalated_at     TEXT,
    created_at       TEXT NOT NULL
);
CREATE UNIQUE INDEX care_dues_one_cycle ON care_dues (person_id) WHERE kind = 'cycle' AND status = 'open';
CREATE UNIQUE INDEX care_dues_round ON care_dues (round_id, person_id);
CREATE INDEX care_dues_open ON care_dues (status, due_at);
CREATE INDEX care_dues_window ON care_dues (window_end);
CREATE INDEX care_dues_done ON care_dues (done_at);

CREATE TABLE care_events (
    id          INTEGER PRIMARY KEY,
    person_id   INTEGER NOT NULL REFERENCES care_people(id),
    at          TEXT NOT NULL,
    actor_id    INTEGER,
    actor_name  TEXT NOT NULL DEFAULT '',
    kind        TEXT NOT NULL,                    -- bot.care.CareEvent
    note        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX care_events_person ON care_events (person_id, at);
