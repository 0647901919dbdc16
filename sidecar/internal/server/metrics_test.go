package server

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestRefusalsAreCountedByCode(t *testing.T) {
	tm := newTeam(t)
	reg := prometheus.NewRegistry()
	h := newServer(t, tm, Config{ForwardAuth: DialectTraefik, Registry: reg})
	for range 2 {
		serve(t, h, request("GET", "/auth", "X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/api/v1/tasks", "X_Jack_User_Id", "admin-1"), "")
	}
	serve(t, h, request("GET", "/auth", "X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/api/v1/tasks"), "")
	serve(t, h, request("GET", "/auth", "X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/index.html"), "")
	m, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range m {
		if f.GetName() != "jack_sidecar_refusals_total" {
			continue
		}
		for _, c := range f.GetMetric() {
			got[c.GetLabel()[0].GetValue()] = c.GetCounter().GetValue()
		}
	}
	if got["FORGED_IDENTITY"] != 2 || got["TOKEN_MISSING"] != 1 || len(got) != 2 {
		t.Errorf("refusals by code = %v, want FORGED_IDENTITY 2 and TOKEN_MISSING 1", got)
	}
}
