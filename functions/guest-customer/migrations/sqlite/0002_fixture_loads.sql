-- Which fixture sets were loaded into this store and when: the local server
-- fills a new shop once, never a store emptied on purpose.
CREATE TABLE fixture_loads (
    name      TEXT    NOT NULL PRIMARY KEY,
    loaded_at INTEGER NOT NULL
);
