package synthetic

import (
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/portico-db/portico/core"
)

// profile is one kind of client: who connects, from where, to which
// service, and what it runs.
type profile struct {
	user, database string
	service        core.Service
	// subnet and hosts make the remotes: subnet followed by 1..hosts.
	subnet string
	hosts  int
	// client is the connection attributes its driver sends, shared by all
	// its sessions as the registry allows.
	client map[string]string
	weight int
	// statements are templates; each # becomes a number.
	statements []string
}

// backends picks the servers a new connection of the profile holds:
// readwritesplit keeps the primary (the service's first server) and one
// replica, the other routers one server.
func (p *profile) backends(rng *rand.Rand) []string {
	srv := p.service.Servers
	switch {
	case len(srv) == 0:
		return nil
	case p.service.Router == "readwritesplit" && len(srv) > 1:
		return []string{srv[0], srv[1+rng.IntN(len(srv)-1)]}
	}
	return []string{srv[rng.IntN(len(srv))]}
}

// statement returns one of the profile's statements with its numbers
// filled in.
func (p *profile) statement(rng *rand.Rand) string {
	parts := strings.Split(p.statements[rng.IntN(len(p.statements))], "#")
	var b strings.Builder
	b.WriteString(parts[0])
	for _, part := range parts[1:] {
		b.WriteString(strconv.Itoa(1 + rng.IntN(999_999)))
		b.WriteString(part)
	}
	return b.String()
}

var (
	goDriver = map[string]string{"_client_name": "Go-MySQL-Driver", "_os": "linux", "_platform": "amd64", "program_name": "shop-api"}
	connJ    = map[string]string{"_client_name": "MariaDB Connector/J", "_client_version": "3.5.3", "_os": "Linux", "_java_version": "21.0.7"}
	python   = map[string]string{"_client_name": "libmariadb", "_client_version": "3.4.5", "_os": "Linux", "program_name": "etl-worker"}
	cli      = map[string]string{"_client_name": "libmariadb", "_client_version": "3.4.5", "_os": "Linux", "program_name": "mariadb"}
)

// profilesFor returns the clients, each on its service from topo.
func profilesFor(topo *core.Topology) []profile {
	svc := func(name string) core.Service {
		if s, err := topo.Service(name); err == nil {
			return s
		}
		if len(topo.Services) > 0 {
			return topo.Services[0]
		}
		return core.Service{Name: name}
	}
	return []profile{
		{user: "shop", database: "shop", service: svc(ServiceReadWrite), subnet: "10.0.1.", hosts: 24, client: goDriver, weight: 45,
			statements: []string{
				"SELECT id, status, total FROM orders WHERE customer_id = # ORDER BY created_at DESC LIMIT 20",
				"SELECT * FROM products WHERE id = #",
				"UPDATE carts SET updated_at = NOW() WHERE id = #",
				"INSERT INTO order_items (order_id, product_id, qty) VALUES (#, #, #)",
				"BEGIN", "COMMIT",
			}},
		{user: "catalog", database: "shop", service: svc(ServiceReadOnly), subnet: "10.0.2.", hosts: 12, client: connJ, weight: 25,
			statements: []string{
				"SELECT id, name, price FROM products WHERE category_id = # LIMIT 50",
				"SELECT COUNT(*) FROM reviews WHERE product_id = #",
				"SELECT * FROM stock WHERE sku = 'SKU-#'",
			}},
		{user: "billing", database: "billing", service: svc(ServiceReadWrite), subnet: "10.0.3.", hosts: 4, client: connJ, weight: 10,
			statements: []string{
				"SELECT * FROM invoices WHERE account_id = # AND paid = 0",
				"UPDATE invoices SET paid = 1, paid_at = NOW() WHERE id = #",
				"CALL settle_account(#)",
			}},
		{user: "reporting", database: "warehouse", service: svc(ServiceAnalytics), subnet: "10.0.8.", hosts: 3, client: python, weight: 12,
			statements: []string{
				"SELECT DATE(created_at) AS d, SUM(total) FROM orders WHERE created_at >= NOW() - INTERVAL # HOUR GROUP BY d",
				"SELECT product_id, COUNT(*) FROM order_items GROUP BY product_id ORDER BY 2 DESC LIMIT 100",
				"INSERT INTO daily_sales SELECT * FROM staging_sales WHERE batch = #",
			}},
		{user: "etl", database: "warehouse", service: svc(ServiceAnalytics), subnet: "10.0.9.", hosts: 2, client: python, weight: 6,
			statements: []string{
				"LOAD DATA LOCAL INFILE '/data/batch-#.csv' INTO TABLE staging_sales",
				"DELETE FROM staging_sales WHERE batch < #",
			}},
		{user: "dba", database: "", service: svc(ServiceReadWrite), subnet: "192.168.7.", hosts: 3, client: cli, weight: 2,
			statements: []string{
				"SHOW PROCESSLIST", "SHOW ENGINE INNODB STATUS", "SELECT @@version",
				"EXPLAIN SELECT * FROM orders WHERE customer_id = #",
			}},
	}
}
