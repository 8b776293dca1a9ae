package loadgen

import (
	"math/rand/v2"
	"strings"
)

// The demo schema's seed rows (cmd/portico/devdb/demo.sql): ids the
// statements look up.
const (
	demoCustomers = 10
	demoProducts  = 12
)

// workload is which statements a session runs, by its database.
type workload int

const (
	// generic statements need no table, for any database or none.
	generic workload = iota
	shop
	analytics
)

func workloadFor(database string) workload {
	switch strings.ToLower(database) {
	case "shop":
		return shop
	case "analytics":
		return analytics
	}
	return generic
}

// statement is a query and its arguments. With arguments the driver
// prepares it, so both the text and the binary protocol show up.
type statement struct {
	query string
	args  []any
}

func oneOf[T any](r *rand.Rand, choices ...T) T { return choices[r.IntN(len(choices))] }

// read is a point or range lookup, what most of an application's traffic
// is.
func (w workload) read(r *rand.Rand) statement {
	switch w {
	case shop:
		switch r.IntN(5) {
		case 0:
			return statement{"SELECT id, sku, name, price, stock FROM products WHERE id = ?", []any{1 + r.IntN(demoProducts)}}
		case 1:
			return statement{"SELECT id, name, price FROM products WHERE category = ? ORDER BY price",
				[]any{oneOf(r, "books", "games", "garden", "kitchen")}}
		case 2:
			return statement{"SELECT id, status, total, created_at FROM orders WHERE customer_id = ? ORDER BY id DESC LIMIT 10",
				[]any{1 + r.IntN(demoCustomers)}}
		case 3:
			return statement{"SELECT name, email, country FROM customers WHERE id = ?", []any{1 + r.IntN(demoCustomers)}}
		default:
			return statement{query: "SELECT COUNT(*) FROM orders WHERE status = 'new'"}
		}
	case analytics:
		switch r.IntN(3) {
		case 0:
			return statement{query: "SELECT id, kind, page, customer_id, ts FROM events ORDER BY id DESC LIMIT 20"}
		case 1:
			return statement{"SELECT COUNT(*) FROM events WHERE kind = ? AND ts > NOW() - INTERVAL 1 HOUR",
				[]any{oneOf(r, "page_view", "search", "add_to_cart", "checkout")}}
		default:
			return statement{"SELECT kind, page, ts FROM events WHERE customer_id = ? ORDER BY id DESC LIMIT 10",
				[]any{1 + r.IntN(demoCustomers)}}
		}
	}
	return statement{query: oneOf(r,
		"SELECT 1",
		"SELECT NOW(), DATABASE(), CURRENT_USER()",
		"SELECT @@version, @@version_comment",
		"SHOW SESSION STATUS LIKE 'Questions'",
	)}
}

// write is one statement, or several to run in a transaction; nil where
// the workload has no table to write.
func (w workload) write(r *rand.Rand) []statement {
	switch w {
	case shop:
		switch n := r.IntN(100); {
		case n < 50:
			customer, product, qty := 1+r.IntN(demoCustomers), 1+r.IntN(demoProducts), 1+r.IntN(3)
			return []statement{
				{"INSERT INTO orders (customer_id, product_id, quantity, total, status) " +
					"SELECT ?, id, ?, price * ?, 'new' FROM products WHERE id = ?", []any{customer, qty, qty, product}},
				{"UPDATE products SET stock = stock - ? WHERE id = ? AND stock >= ?", []any{qty, product, qty}},
			}
		case n < 70:
			return []statement{{query: "UPDATE orders SET status = 'paid' WHERE status = 'new' ORDER BY id LIMIT 1"}}
		case n < 85:
			return []statement{{query: "UPDATE orders SET status = 'shipped' WHERE status = 'paid' ORDER BY id LIMIT 1"}}
		case n < 95:
			return []statement{{query: "UPDATE products SET stock = stock + 100 WHERE stock < 20"}}
		default:
			// Keeps the table small however long the load runs.
			return []statement{{query: "DELETE FROM orders WHERE created_at < NOW() - INTERVAL 1 HOUR LIMIT 500"}}
		}
	case analytics:
		if r.IntN(20) == 0 {
			return []statement{{query: "DELETE FROM events WHERE ts < NOW() - INTERVAL 1 HOUR LIMIT 1000"}}
		}
		rows := 1 + r.IntN(5)
		var q strings.Builder
		q.WriteString("INSERT INTO events (kind, page, customer_id) VALUES ")
		args := make([]any, 0, 3*rows)
		for i := range rows {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(?, ?, ?)")
			args = append(args, oneOf(r, "page_view", "page_view", "page_view", "search", "add_to_cart", "checkout"),
				oneOf(r, "/", "/products", "/products/42", "/cart", "/checkout", "/search?q=garden"), 1+r.IntN(demoCustomers))
		}
		return []statement{{q.String(), args}}
	}
	return nil
}

// report is an aggregate over a whole table, what a dashboard or a report
// runs.
func (w workload) report(r *rand.Rand) statement {
	switch w {
	case shop:
		return statement{query: oneOf(r,
			"SELECT p.category, COUNT(*) AS orders, SUM(o.quantity) AS items, SUM(o.total) AS revenue "+
				"FROM orders o JOIN products p ON p.id = o.product_id GROUP BY p.category ORDER BY revenue DESC",
			"SELECT status, COUNT(*) AS orders, SUM(total) AS amount FROM orders GROUP BY status",
			"SELECT c.country, COUNT(DISTINCT c.id) AS customers, COUNT(o.id) AS orders, COALESCE(SUM(o.total), 0) AS revenue "+
				"FROM customers c LEFT JOIN orders o ON o.customer_id = c.id GROUP BY c.country ORDER BY revenue DESC",
			"SELECT p.name, SUM(o.quantity) AS sold FROM orders o JOIN products p ON p.id = o.product_id "+
				"GROUP BY p.id, p.name ORDER BY sold DESC LIMIT 5",
		)}
	case analytics:
		return statement{query: oneOf(r,
			"SELECT kind, COUNT(*) AS events FROM events WHERE ts > NOW() - INTERVAL 1 HOUR GROUP BY kind ORDER BY events DESC",
			"SELECT page, COUNT(*) AS views FROM events WHERE kind = 'page_view' GROUP BY page ORDER BY views DESC LIMIT 5",
			"SELECT DATE_FORMAT(ts, '%Y-%m-%d %H:%i') AS minute, COUNT(*) AS events FROM events "+
				"GROUP BY minute ORDER BY minute DESC LIMIT 30",
			"SELECT customer_id, COUNT(*) AS events, MAX(ts) AS last_seen FROM events "+
				"WHERE customer_id IS NOT NULL GROUP BY customer_id ORDER BY events DESC LIMIT 10",
		)}
	}
	return statement{query: oneOf(r,
		"SELECT table_schema, COUNT(*) AS tables FROM information_schema.TABLES GROUP BY table_schema",
		"SELECT COUNT(*) FROM information_schema.PROCESSLIST",
	)}
}
