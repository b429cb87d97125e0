-- officers, assignment, lifecycle times, co-reporters, duplicates and satisfaction
ALTER TABLE tickets ADD COLUMN assignee_id BIGINT;
ALTER TABLE tickets ADD COLUMN assignee_name TEXT;
-- first time an officer acted (taken, assigned, public progress, done, rejected): 响应
ALTER TABLE tickets ADD COLUMN accepted_at TEXT;
ALTER TABLE tickets ADD COLUMN resolved_at TEXT;
ALTER TABLE tickets ADD COLUMN closed_at TEXT;
ALTER TABLE tickets ADD COLUMN reopen_count BIGINT NOT NULL DEFAULT 0;
-- satisfied 满意 | basic 基本满意 | unsatisfied 不满意 | unrated 未评价 (no answer in the window)
ALTER TABLE tickets ADD COLUMN satisfaction TEXT
    CHECK (satisfaction IS NULL OR satisfaction IN ('satisfied', 'basic', 'unsatisfied', 'unrated'));
ALTER TABLE tickets ADD COLUMN duplicate_of BIGINT REFERENCES tickets(id) DEFERRABLE;

CREATE INDEX tickets_created ON tickets (created_at);
CREATE INDEX tickets_receipt ON tickets (chat_id, receipt_message_id);
CREATE INDEX tickets_reporter ON tickets (reporter_id);
CREATE INDEX tickets_assignee ON tickets (assignee_id, status) WHERE assignee_id IS NOT NULL;

-- Officers named by a deployment admin (grid chat administrators are officers without a row here).
CREATE TABLE officers (
    grid_id   BIGINT NOT NULL REFERENCES grids(id) DEFERRABLE,
    user_id   BIGINT NOT NULL,
    name      TEXT NOT NULL DEFAULT '',
    added_by  BIGINT,
    added_at  TEXT NOT NULL,
    PRIMARY KEY (grid_id, user_id)
);

-- Residents who said "+1 / 我也是" on a ticket, and reporters of tickets merged into it.
CREATE TABLE ticket_reporters (
    ticket_id  BIGINT NOT NULL REFERENCES tickets(id) ON DELETE CASCADE DEFERRABLE,
    user_id    BIGINT NOT NULL,
    name       TEXT NOT NULL DEFAULT '',
    added_at   TEXT NOT NULL,
    PRIMARY KEY (ticket_id, user_id)
);
CREATE INDEX ticket_reporters_user ON ticket_reporters (user_id);
