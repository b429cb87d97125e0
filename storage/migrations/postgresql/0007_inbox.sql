-- the webhook inbox: every update kept before Telegram gets its 200, handled from here once
-- Several webhook instances on one database, behind a load balancer that posts an update to any
-- of them: the instance that receives an update writes it here (a second copy of the same
-- update_id does nothing) and answers 200; whichever instance claims the chat handles the chat's
-- waiting updates one at a time, in update_id order, and sets done_at. The tick forgets rows
-- done long ago (as handled_updates).
CREATE TABLE inbox (
    update_id    BIGINT PRIMARY KEY,
    chat_id      BIGINT NOT NULL,
    body         TEXT NOT NULL,
    received_at  TEXT NOT NULL,
    done_at      TEXT
);
CREATE INDEX inbox_pending ON inbox (chat_id, update_id) WHERE done_at IS NULL;
CREATE INDEX inbox_done_at ON inbox (done_at) WHERE done_at IS NOT NULL;
