-- One database per MySQL service on the shared server (see local/compose.yaml).
-- The image creates `shop` from MYSQL_USER; a server without it (CI's) needs it made here.
CREATE USER IF NOT EXISTS 'shop'@'%' IDENTIFIED BY 'shop';
CREATE DATABASE IF NOT EXISTS registered_customer CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE DATABASE IF NOT EXISTS vip_customer CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
GRANT ALL PRIVILEGES ON registered_customer.* TO 'shop'@'%';
GRANT ALL PRIVILEGES ON vip_customer.* TO 'shop'@'%';
