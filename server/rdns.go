package server

import (
	"context"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// rdnsTimeout bounds the reverse lookups of one request, so a slow resolver
// delays a response by at most this much.
const rdnsTimeout = time.Second

// wantRDNS reports MaxScale's rdns=true: show client host names, not
// addresses, in remote.
func wantRDNS(r *http.Request) bool {
	return truthy(r.URL.Query().Get("rdns"))
}

// resolveRemotes replaces each session's remote address by its host name,
// looking each distinct address up once, concurrently. An address without a
// name, or whose lookup fails or times out, stays as it is.
func resolveRemotes(ctx context.Context, rows []sessionResource) {
	ctx, cancel := context.WithTimeout(ctx, rdnsTimeout)
	defer cancel()
	var addrs []string
	seen := make(map[string]bool)
	for _, row := range rows {
		if a := row.Attributes.Remote; !seen[a] && net.ParseIP(a) != nil {
			seen[a] = true
			addrs = append(addrs, a)
		}
	}
	var mu sync.Mutex
	names := make(map[string]string, len(addrs))
	var wg sync.WaitGroup
	for _, addr := range addrs {
		wg.Go(func() {
			hosts, err := net.DefaultResolver.LookupAddr(ctx, addr)
			if err != nil || len(hosts) == 0 {
				return
			}
			mu.Lock()
			names[addr] = strings.TrimSuffix(hosts[0], ".")
			mu.Unlock()
		})
	}
	wg.Wait()
	for i := range rows {
		if name := names[rows[i].Attributes.Remote]; name != "" {
			rows[i].Attributes.Remote = name
		}
	}
}
