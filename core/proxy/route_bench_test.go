package proxy

import (
	"strconv"
	"testing"

	"github.com/portico-db/portico/core"
)

// BenchmarkCandidates measures choosing the servers to try, which every
// session pays once: a service of eight servers, some down, some busy.
func BenchmarkCandidates(b *testing.B) {
	topo := &core.Topology{}
	svc := core.Service{Name: "svc", RouterOptions: []string{"slave"}}
	states := core.NewServerStates()
	for i := range 8 {
		name := "db" + strconv.Itoa(i)
		topo.Servers = append(topo.Servers, core.Server{Name: name, Address: "127.0.0.1", Port: 3306})
		svc.Servers = append(svc.Servers, name)
		role := core.RoleSlave
		if i == 0 {
			role = core.RoleMaster
		}
		states.Set(name, core.ServerState{Up: i != 3, Role: role, Monitored: true})
	}
	topo.Services = []core.Service{svc}
	p := New(Config{Topology: topo, States: states})
	for i, srv := range topo.Servers {
		p.conns[srv.Name].Add(int64(i * 7 % 5))
	}
	b.ReportAllocs()
	for b.Loop() {
		if len(p.candidates(svc)) != 7 {
			b.Fatal("want the seven servers that are up")
		}
	}
}
