-- indexes for the three rates and the daily digests
-- The partial deadline indexes of 0003 cover only open tickets (what the tick needs); 响应率 and
-- 解决率 count tickets by deadline in any status, so they need the deadlines of every ticket.
CREATE INDEX tickets_response_due_any ON tickets (response_due);
CREATE INDEX tickets_resolution_due_any ON tickets (resolution_due);
-- Open tickets by grid, most overdue first: the digests' open/overdue counts and the numbering
-- of each grid's overdue list read this index alone (status is a column so that it covers).
CREATE INDEX tickets_open_by_grid ON tickets (grid_id, resolution_due, category, status)
    WHERE status IN ('new', 'accepted');
