package chart

import "testing"

// What the operator would create for itself in its namespace, the chart
// creates empty, so that uninstall removes it (templates/state.yaml); in
// cert-manager mode the Secret is cert-manager's, and without leader election
// there is no Lease.
func TestTheChartOwnsTheOperatorsLeaseAndCertificateSecret(t *testing.T) {
	objs := render(t, nil)
	lease := find(t, objs, "Lease", "jack-operator.auth.jack.io")
	if lease.GetNamespace() != namespace {
		t.Errorf("the Lease is in %q, want the release namespace", lease.GetNamespace())
	}
	secret := find(t, objs, "Secret", "jack-operator-webhook-certs")
	if _, ok := secret.Object["data"]; ok {
		t.Error("the chart's webhook Secret has data: an upgrade would overwrite the operator's certificates")
	}
	if _, ok := secret.Object["stringData"]; ok {
		t.Error("the chart's webhook Secret has stringData")
	}

	for name, v := range map[string]values{"cert-manager": valueSets["cert-manager"], "HA off": valueSets["HA off"]} {
		objs := render(t, v)
		if name == "cert-manager" && lookup(objs, "Secret", "jack-operator-webhook-certs") != nil {
			t.Error("cert-manager mode: the chart creates the Secret cert-manager writes")
		}
		if name == "HA off" && lookup(objs, "Lease", "jack-operator.auth.jack.io") != nil {
			t.Error("without leader election the chart creates a Lease")
		}
	}
}
