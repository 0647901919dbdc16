package chart

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// metricName finds the jack metrics a PromQL expression uses.
var metricName = regexp.MustCompile(`\bjack_[a-z0-9_]+`)

// The Grafana dashboard is a ConfigMap Grafana's sidecar finds, holding a
// dashboard that queries metrics the operator and the sidecar export, with
// panels for logins, refusals, key ages and propagation and revocations.
func TestTheGrafanaDashboardQueriesMetricsThatExist(t *testing.T) {
	if got := ofKind(render(t, nil), "ConfigMap"); len(got) > 0 {
		t.Error("a dashboard ConfigMap is rendered by default")
	}
	objs := render(t, values{"grafana": values{"dashboard": values{"enabled": true, "namespace": "monitoring", "annotations": values{"grafana_folder": "Jack"}}}})
	cm := find(t, objs, "ConfigMap", "jack-operator-dashboard")
	if cm.GetLabels()["grafana_dashboard"] != "1" || cm.GetNamespace() != "monitoring" || cm.GetAnnotations()["grafana_folder"] != "Jack" {
		t.Errorf("the dashboard ConfigMap is %s/%s, labels %v, annotations %v", cm.GetNamespace(), cm.GetName(), cm.GetLabels(), cm.GetAnnotations())
	}
	var dash struct {
		Title  string `json:"title"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal([]byte(field(t, cm, "data", "jack-operator.json").(string)), &dash); err != nil {
		t.Fatalf("the dashboard is not JSON: %v", err)
	}
	var exprs []string
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	for _, v := range dash.Templating.List {
		exprs = append(exprs, v.Definition)
	}
	used := metricsIn(exprs...)
	for _, want := range []string{"jack_sidecar_logins_total", "jack_sidecar_refusals_total", "jack_sidecar_token_refusals_total",
		"jack_signingkey_active_key_age_seconds", "jack_signingkey_sidecars_lagging", "jack_signingkey_promotion_held_seconds",
		"jack_operator_token_revocation_confirmations_total", "jack_sidecar_revocations", "jack_sidecar_build_info", "jack_operator_build_info"} {
		if !slices.Contains(used, want) {
			t.Errorf("no panel shows %s", want)
		}
	}
	checkMetricsExist(t, "the dashboard", used)

	// Which sidecar versions run, and how many of each: what an upgrade
	// leaves behind until injected pods are re-created.
	var versions []string
	for _, p := range dash.Panels {
		if p.Title == "Sidecar versions" {
			for _, tg := range p.Targets {
				versions = append(versions, tg.Expr)
			}
		}
	}
	if !slices.Contains(versions, `count by (version) (jack_sidecar_build_info{namespace=~"$namespace"})`) {
		t.Errorf("the panel Sidecar versions queries %q, want the sidecars counted by version", versions)
	}
}

// Every alert the chart ships links to its own section of docs/runbooks.md,
// which says what it means, its impact, how to diagnose and how to fix it;
// and every metric an alert uses exists.
func TestEveryAlertHasARunbookAndUsesRealMetrics(t *testing.T) {
	objs := render(t, values{"metrics": values{"prometheusRule": values{"enabled": true}}})
	rule := find(t, objs, "PrometheusRule", "jack-operator")
	runbooks := string(readFile(t, filepath.Join(root, "docs", "runbooks.md")))
	var exprs []string
	for _, g := range field(t, rule, "spec", "groups").([]any) {
		for _, r := range g.(map[string]any)["rules"].([]any) {
			r := r.(map[string]any)
			exprs = append(exprs, r["expr"].(string))
			alert, _ := r["alert"].(string)
			if alert == "" {
				continue
			}
			ann, _ := r["annotations"].(map[string]any)
			want := "https://github.com/jack-io/jack-operator/blob/main/docs/runbooks.md#" + strings.ToLower(alert)
			if ann["runbook_url"] != want {
				t.Errorf("%s: runbook_url = %v, want %s", alert, ann["runbook_url"], want)
			}
			section := runbookSection(runbooks, alert)
			if section == "" {
				t.Errorf("docs/runbooks.md has no section \"## %s\"", alert)
				continue
			}
			for _, part := range []string{"**Meaning.**", "**Impact.**", "**Diagnosis.**", "**Fix.**"} {
				if !strings.Contains(section, part) {
					t.Errorf("docs/runbooks.md, %s: no %s", alert, part)
				}
			}
		}
	}
	checkMetricsExist(t, "the alerts", metricsIn(exprs...))

	// The runbook base is a value.
	objs = render(t, values{"metrics": values{"prometheusRule": values{"enabled": true, "runbookBaseURL": "https://wiki.example.com/jack"}}})
	if !strings.Contains(asYAML(find(t, objs, "PrometheusRule", "jack-operator").Object), "runbook_url: https://wiki.example.com/jack#jacksigningkeyrotationoverdue") {
		t.Error("metrics.prometheusRule.runbookBaseURL does not set the runbook links")
	}
}

func runbookSection(doc, alert string) string {
	_, after, ok := strings.Cut(doc, "\n## "+alert+"\n")
	if !ok {
		return ""
	}
	section, _, _ := strings.Cut(after, "\n## ")
	return section
}

func metricsIn(exprs ...string) []string {
	var out []string
	for _, e := range exprs {
		for _, m := range metricName.FindAllString(e, -1) {
			if !slices.Contains(out, m) {
				out = append(out, m)
			}
		}
	}
	slices.Sort(out)
	return out
}

// checkMetricsExist fails for every metric name that no Go file of the
// operator or the sidecar defines (a histogram's _bucket, _sum and _count
// count as its name).
func checkMetricsExist(t *testing.T, what string, names []string) {
	t.Helper()
	source := allGoSource(t)
	for _, m := range names {
		base := m
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if b, ok := strings.CutSuffix(m, suffix); ok && strings.Contains(source, `"`+b+`"`) {
				base = b
			}
		}
		if !strings.Contains(source, `"`+base+`"`) {
			t.Errorf("%s use %s, which no metric in the code is named", what, m)
		}
	}
}

// allGoSource is every non-test Go file of the operator and the sidecar.
func allGoSource(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			if slices.Contains([]string{"bin", "hack", "test", "testdata", ".git", "docs", "charts", "config"}, d.Name()) && rel != "." {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			b.Write(data)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}
