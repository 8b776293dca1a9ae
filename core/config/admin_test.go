package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/portico-db/portico/core/config"
)

// minimal is the smallest valid configuration after a [maxscale] section.
const minimal = "[db1]\ntype=server\naddress=h\n[svc]\ntype=service\nrouter=readconnroute\nservers=db1\n" +
	"[l]\ntype=listener\nservice=svc\nport=4006\n"

func TestParseAdmin(t *testing.T) {
	type admin struct {
		dataDir   string
		secureGUI bool
		// metricsAuth is admin_metrics_auth: on unless turned off.
		metricsAuth bool
		maxAge      time.Duration
		cert, key   string
	}
	defaults := admin{dataDir: "/var/lib/portico", secureGUI: true, metricsAuth: true, maxAge: 24 * time.Hour}
	with := func(edit func(*admin)) admin {
		a := defaults
		edit(&a)
		return a
	}
	tests := []struct {
		name     string
		maxscale string
		want     admin
		warning  string
	}{
		{"defaults", "", defaults, ""},
		{"datadir", "datadir=.tmp/portico\n", with(func(a *admin) { a.dataDir = ".tmp/portico" }), ""},
		{"secure gui off", "admin_secure_gui=false\n", with(func(a *admin) { a.secureGUI = false }), ""},
		{"secure gui no", "admin_secure_gui=no\n", with(func(a *admin) { a.secureGUI = false }), ""},
		{"secure gui 0", "admin_secure_gui=0\n", with(func(a *admin) { a.secureGUI = false }), ""},
		{"secure gui on", "admin_secure_gui=ON\n", defaults, ""},
		{"metrics auth off", "admin_metrics_auth=false\n", with(func(a *admin) { a.metricsAuth = false }), ""},
		{"metrics auth on", "admin_metrics_auth=true\n", defaults, ""},
		{"max age hours", "admin_jwt_max_age=2h\n", with(func(a *admin) { a.maxAge = 2 * time.Hour }), ""},
		{"max age minutes", "admin_jwt_max_age=90m\n", with(func(a *admin) { a.maxAge = 90 * time.Minute }), ""},
		{"max age seconds", "admin_jwt_max_age=3600s\n", with(func(a *admin) { a.maxAge = time.Hour }), ""},
		{"max age milliseconds", "admin_jwt_max_age=1500ms\n", with(func(a *admin) { a.maxAge = 1500 * time.Millisecond }), ""},
		{"max age without unit", "admin_jwt_max_age=3600\n", with(func(a *admin) { a.maxAge = time.Hour }),
			"my.cnf:2: [maxscale]: admin_jwt_max_age=3600 has no unit and is read as seconds"},
		{"tls", "admin_ssl_cert=/etc/cert.pem\nadmin_ssl_key=/etc/key.pem\n",
			with(func(a *admin) { a.cert, a.key = "/etc/cert.pem", "/etc/key.pem" }), ""},
		{"tls both empty", "admin_ssl_cert=\nadmin_ssl_key=\n", defaults, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Parse("my.cnf", strings.NewReader("[maxscale]\n"+tt.maxscale+minimal))
			if err != nil {
				t.Fatal(err)
			}
			got := admin{cfg.DataDir, cfg.AdminSecureGUI, cfg.AdminMetricsAuth, cfg.AdminJWTMaxAge, cfg.AdminSSLCert, cfg.AdminSSLKey}
			if got != tt.want {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
			warnings := strings.Join(cfg.Warnings, "\n")
			if tt.warning == "" && warnings != "" {
				t.Errorf("unexpected warnings:\n%s", warnings)
			}
			if !strings.Contains(warnings, tt.warning) {
				t.Errorf("warnings lack %q:\n%s", tt.warning, warnings)
			}
		})
	}
}

func TestParseAdminErrors(t *testing.T) {
	tests := []struct {
		name, maxscale, want string
	}{
		{"empty datadir", "datadir=\n", "my.cnf:2: datadir is empty"},
		{"bad boolean", "admin_port=8989\nadmin_secure_gui=maybe\n", `my.cnf:3: admin_secure_gui="maybe": not a boolean`},
		{"bad metrics auth", "admin_metrics_auth=maybe\n", `my.cnf:2: admin_metrics_auth="maybe": not a boolean`},
		{"bad duration", "admin_jwt_max_age=a day\n", `my.cnf:2: admin_jwt_max_age="a day": not a duration`},
		{"compound duration", "admin_jwt_max_age=1h30m\n", `my.cnf:2: admin_jwt_max_age="1h30m": not a duration`},
		{"negative duration", "admin_jwt_max_age=-1h\n", `my.cnf:2: admin_jwt_max_age="-1h": not a duration`},
		{"unknown unit", "admin_jwt_max_age=2d\n", `my.cnf:2: admin_jwt_max_age="2d": unknown duration unit "d"`},
		{"zero duration", "admin_jwt_max_age=0s\n", `my.cnf:2: admin_jwt_max_age="0s": must be at least 1s`},
		{"sub-second duration", "admin_jwt_max_age=500ms\n", `my.cnf:2: admin_jwt_max_age="500ms": must be at least 1s`},
		{"overflowing duration", "admin_jwt_max_age=9999999999999h\n", `my.cnf:2: admin_jwt_max_age="9999999999999h": duration is too long`},
		{"cert without key", "admin_port=8989\nadmin_ssl_cert=/c.pem\n", "my.cnf:3: admin_ssl_cert is set but admin_ssl_key is not"},
		{"key without cert", "admin_ssl_key=/k.pem\nadmin_ssl_cert=\n", "my.cnf:2: admin_ssl_key is set but admin_ssl_cert is not"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Parse("my.cnf", strings.NewReader("[maxscale]\n"+tt.maxscale+minimal))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v\nwant it to contain %q", err, tt.want)
			}
		})
	}
}
