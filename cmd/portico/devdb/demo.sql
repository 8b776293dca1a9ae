-- Portico's demo schema and accounts: what `portico load` (package loadgen)
-- expects behind Portico, and so what every development database must offer.
-- mariadb.sh feeds this file to the private MariaDB at each start; an
-- embedded database should load the same file.
--
-- It is idempotent: it creates only what is missing and inserts the seed
-- rows by id, ignoring those already there, so it can run on every start.
-- The load adds and deletes rows as it runs; seed rows it has deleted come
-- back on the next start.
--
-- Accounts, all with the password demo (loadgen.DefaultUsers):
--   shop_app   reads and writes shop
--   shop_ro    reads shop
--   reporting  reads shop and analytics
--   etl        reads shop, reads and writes analytics
--
-- loadgen looks up customers 1 to 10 and products 1 to 12: keep those ids.

CREATE DATABASE IF NOT EXISTS shop;
CREATE DATABASE IF NOT EXISTS analytics;

CREATE TABLE IF NOT EXISTS shop.customers (
	id         INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
	name       VARCHAR(100) NOT NULL,
	email      VARCHAR(200) NOT NULL,
	country    CHAR(2) NOT NULL,
	created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE IF NOT EXISTS shop.products (
	id       INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
	sku      VARCHAR(20) NOT NULL,
	name     VARCHAR(100) NOT NULL,
	category VARCHAR(40) NOT NULL,
	price    DECIMAL(10,2) NOT NULL,
	stock    INT NOT NULL
);

CREATE TABLE IF NOT EXISTS shop.orders (
	id          INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
	customer_id INT NOT NULL,
	product_id  INT NOT NULL,
	quantity    INT NOT NULL,
	total       DECIMAL(10,2) NOT NULL,
	-- new, then paid, then shipped
	status      VARCHAR(20) NOT NULL,
	created_at  DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
	KEY orders_customer (customer_id),
	KEY orders_status (status),
	KEY orders_created (created_at)
);

CREATE TABLE IF NOT EXISTS analytics.events (
	id          BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
	-- page_view, search, add_to_cart or checkout
	kind        VARCHAR(20) NOT NULL,
	page        VARCHAR(200) NOT NULL,
	customer_id INT NULL,
	ts          DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
	KEY events_ts (ts),
	KEY events_customer (customer_id)
);

INSERT IGNORE INTO shop.customers (id, name, email, country) VALUES
	(1, 'Ada Lovelace', 'ada@example.com', 'GB'),
	(2, 'Grace Hopper', 'grace@example.com', 'US'),
	(3, 'Edsger Dijkstra', 'edsger@example.com', 'NL'),
	(4, 'Barbara Liskov', 'barbara@example.com', 'US'),
	(5, 'Donald Knuth', 'don@example.com', 'US'),
	(6, 'Margaret Hamilton', 'margaret@example.com', 'US'),
	(7, 'Niklaus Wirth', 'niklaus@example.com', 'CH'),
	(8, 'Frances Allen', 'frances@example.com', 'US'),
	(9, 'Monty Widenius', 'monty@example.com', 'FI'),
	(10, 'Sophie Wilson', 'sophie@example.com', 'GB');

INSERT IGNORE INTO shop.products (id, sku, name, category, price, stock) VALUES
	(1, 'BK-001', 'The Art of Computer Programming', 'books', 189.00, 40),
	(2, 'BK-002', 'Structure and Interpretation', 'books', 45.50, 120),
	(3, 'BK-003', 'The Mythical Man-Month', 'books', 29.90, 80),
	(4, 'GM-001', 'Chess Set', 'games', 59.00, 35),
	(5, 'GM-002', 'Go Board', 'games', 89.00, 20),
	(6, 'GM-003', 'Puzzle, 1000 pieces', 'games', 19.99, 150),
	(7, 'GD-001', 'Watering Can', 'garden', 24.00, 60),
	(8, 'GD-002', 'Pruning Shears', 'garden', 32.50, 45),
	(9, 'GD-003', 'Seed Collection', 'garden', 12.00, 300),
	(10, 'KT-001', 'Cast Iron Pan', 'kitchen', 49.00, 70),
	(11, 'KT-002', 'Chef Knife', 'kitchen', 79.00, 55),
	(12, 'KT-003', 'Coffee Grinder', 'kitchen', 64.00, 25);

INSERT IGNORE INTO shop.orders (id, customer_id, product_id, quantity, total, status, created_at) VALUES
	(1, 1, 1, 1, 189.00, 'shipped', NOW() - INTERVAL 50 MINUTE),
	(2, 2, 4, 1, 59.00, 'shipped', NOW() - INTERVAL 45 MINUTE),
	(3, 3, 2, 2, 91.00, 'shipped', NOW() - INTERVAL 40 MINUTE),
	(4, 5, 10, 1, 49.00, 'paid', NOW() - INTERVAL 30 MINUTE),
	(5, 7, 9, 3, 36.00, 'paid', NOW() - INTERVAL 25 MINUTE),
	(6, 9, 12, 1, 64.00, 'paid', NOW() - INTERVAL 20 MINUTE),
	(7, 4, 6, 2, 39.98, 'new', NOW() - INTERVAL 10 MINUTE),
	(8, 6, 11, 1, 79.00, 'new', NOW() - INTERVAL 8 MINUTE),
	(9, 8, 7, 1, 24.00, 'new', NOW() - INTERVAL 5 MINUTE),
	(10, 10, 3, 1, 29.90, 'new', NOW() - INTERVAL 2 MINUTE);

INSERT IGNORE INTO analytics.events (id, kind, page, customer_id, ts) VALUES
	(1, 'page_view', '/', NULL, NOW() - INTERVAL 55 MINUTE),
	(2, 'page_view', '/products', 1, NOW() - INTERVAL 52 MINUTE),
	(3, 'add_to_cart', '/products/1', 1, NOW() - INTERVAL 51 MINUTE),
	(4, 'checkout', '/checkout', 1, NOW() - INTERVAL 50 MINUTE),
	(5, 'search', '/search?q=chess', 2, NOW() - INTERVAL 46 MINUTE),
	(6, 'page_view', '/products/4', 2, NOW() - INTERVAL 46 MINUTE),
	(7, 'checkout', '/checkout', 2, NOW() - INTERVAL 45 MINUTE),
	(8, 'page_view', '/', NULL, NOW() - INTERVAL 35 MINUTE),
	(9, 'page_view', '/products', 5, NOW() - INTERVAL 31 MINUTE),
	(10, 'add_to_cart', '/products/10', 5, NOW() - INTERVAL 30 MINUTE),
	(11, 'page_view', '/cart', 5, NOW() - INTERVAL 30 MINUTE),
	(12, 'search', '/search?q=garden', 7, NOW() - INTERVAL 26 MINUTE),
	(13, 'page_view', '/', NULL, NOW() - INTERVAL 15 MINUTE),
	(14, 'page_view', '/products/6', 4, NOW() - INTERVAL 11 MINUTE),
	(15, 'checkout', '/checkout', 4, NOW() - INTERVAL 10 MINUTE),
	(16, 'page_view', '/', NULL, NOW() - INTERVAL 3 MINUTE);

CREATE USER IF NOT EXISTS 'shop_app'@'%' IDENTIFIED BY 'demo';
CREATE USER IF NOT EXISTS 'shop_ro'@'%' IDENTIFIED BY 'demo';
CREATE USER IF NOT EXISTS 'reporting'@'%' IDENTIFIED BY 'demo';
CREATE USER IF NOT EXISTS 'etl'@'%' IDENTIFIED BY 'demo';

GRANT SELECT, INSERT, UPDATE, DELETE ON shop.* TO 'shop_app'@'%';
GRANT SELECT ON shop.* TO 'shop_ro'@'%';
GRANT SELECT ON shop.* TO 'reporting'@'%';
GRANT SELECT ON analytics.* TO 'reporting'@'%';
GRANT SELECT ON shop.* TO 'etl'@'%';
GRANT SELECT, INSERT, UPDATE, DELETE ON analytics.* TO 'etl'@'%';
