-- Which fixture sets were loaded into this store and when: the local server
-- fills a new shop once, never a store emptied on purpose.
CREATE TABLE fixture_loads (
    name      VARCHAR(64) CHARACTER SET ascii NOT NULL PRIMARY KEY,
    loaded_at BIGINT      NOT NULL
) ENGINE=InnoDB;
