-- the staff web page's ticket table: tickets sorted by where they stand in their life
-- The page sorts a page of tickets by status in lifecycle order, then id (storage/webviews.py,
-- STATUS_ORDER: the same expression, so that the index serves it): an ordered range read where
-- a million tickets were otherwise sorted for every page. PostgreSQL's index entries do not end
-- with the id as SQLite's end with the rowid, so the id is a column of the index here.
CREATE INDEX tickets_status_order ON tickets ((
    CASE status WHEN 'new' THEN 0 WHEN 'accepted' THEN 1 WHEN 'resolved' THEN 2
        WHEN 'closed' THEN 3 WHEN 'rejected' THEN 4 WHEN 'duplicate' THEN 5 END
), id);
