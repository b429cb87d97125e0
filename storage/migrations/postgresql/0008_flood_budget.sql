-- the flood budget shared by instances on one database: Telegram's limits are per bot
-- Telegram allows a bot ~30 messages a second and 20 a minute in one group, whichever process
-- sends them. On PostgreSQL every counted request is booked here (bot.ratelimit, storage.flood)
-- in one short transaction under a transaction-scoped advisory lock, so that several instances
-- keep those windows together; rows older than two minutes are pruned as bookings go. On SQLite
-- (one process) the budget stays in memory and these tables stay empty.
-- UNLOGGED: a booking writes no WAL (its COMMIT waits for no disk), and a server crash empties
-- the tables, which only forgets the last two minutes' windows.
CREATE UNLOGGED TABLE flood_sends (
    chat_id  BIGINT,                   -- NULL: a request naming no numeric chat (global window only)
    at       BIGINT NOT NULL,          -- when it was booked: milliseconds on the instances' clock
    paid     BIGINT NOT NULL DEFAULT 0 CHECK (paid IN (0, 1))  -- sent with allow_paid_broadcast
);
CREATE INDEX flood_sends_at ON flood_sends (paid, at);
CREATE INDEX flood_sends_chat ON flood_sends (chat_id, at);

-- A RetryAfter from Telegram blocks its chat for every instance until then.
CREATE UNLOGGED TABLE flood_blocks (
    chat_id  BIGINT PRIMARY KEY,
    until    BIGINT NOT NULL           -- milliseconds on the instances' clock
);
