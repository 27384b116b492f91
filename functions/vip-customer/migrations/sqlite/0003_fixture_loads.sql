-- See the MySQL migration of the same name.
CREATE TABLE fixture_loads (
    name      TEXT    NOT NULL PRIMARY KEY,
    loaded_at INTEGER NOT NULL
);
