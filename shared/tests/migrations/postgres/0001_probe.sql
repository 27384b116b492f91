CREATE TABLE probe (
    id     VARCHAR(40)  NOT NULL PRIMARY KEY,
    label  VARCHAR(200) NOT NULL,
    notes  TEXT         NULL,
    amount BIGINT       NOT NULL,
    flag   BIGINT       NOT NULL DEFAULT 0
);
