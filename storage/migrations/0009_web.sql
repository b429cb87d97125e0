-- the staff web page: single-use login links, sessions and the audit log
-- `/web` in a private chat writes a login link (its id signed in the URL, valid 10 minutes); the
-- page's POST /login uses it once (`UPDATE … WHERE used_at IS NULL AND expires_at > now`) and opens
-- a session, whose cookie holds a random token of which only the SHA-256 is kept here. Both carry
-- the grants (JSON) decided at /web time; the page checks each grant again at every request.
-- Every login, ticket view and download is a row of web_audit, which admins read (/audit).
CREATE TABLE web_logins (
    id          TEXT PRIMARY KEY,             -- random, URL-safe; signed in the link
    user_id     INTEGER NOT NULL,
    user_name   TEXT NOT NULL DEFAULT '',
    grants      TEXT NOT NULL,                -- JSON: bot.web.access.dump_grants
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    used_at     TEXT
);
CREATE INDEX web_logins_user_created ON web_logins (user_id, created_at);
CREATE INDEX web_logins_expires ON web_logins (expires_at);

CREATE TABLE web_sessions (
    token_hash  TEXT PRIMARY KEY,             -- sha256 hex of the cookie's token
    user_id     INTEGER NOT NULL,
    user_name   TEXT NOT NULL DEFAULT '',
    grants      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    ended_at    TEXT                          -- logged out, or access ended
);
CREATE INDEX web_sessions_expires ON web_sessions (expires_at);

CREATE TABLE web_audit (
    id          INTEGER PRIMARY KEY,
    at          TEXT NOT NULL,
    user_id     INTEGER,                      -- NULL: nobody logged in (a refused link)
    user_name   TEXT NOT NULL DEFAULT '',
    action      TEXT NOT NULL,                -- storage.vocabulary.AuditAction
    target      TEXT NOT NULL DEFAULT '',     -- a ticket id, a file, a filter
    address     TEXT NOT NULL DEFAULT ''      -- the client's address as the page saw it
);
CREATE INDEX web_audit_at ON web_audit (at);
