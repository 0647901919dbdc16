package main

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// sentence is what the user reads when a verb fails. An API server's refusal
// of an invalid object becomes its field messages — the CRD's own sentences
// (its CEL rules' messages), which are what kubectl apply would show — without
// the Go type noise around them.
//
// A webhook's refusal is its own sentence, without the API server's
// preamble. What a broken install does — an API server that cannot be
// reached, a kind it does not serve (a CRD not installed), a webhook it
// cannot call (the operator down) — is named with where to look next,
// instead of Go's or the API server's error alone.
func (a *app) sentence(err error) string {
	var netErr *net.OpError
	if errors.As(err, &netErr) {
		host := "the API server"
		if a.cfg != nil {
			host = "the API server at " + a.cfg.Host
		} else if cfg, cerr := a.flags.ToRESTConfig(); cerr == nil {
			host = "the API server at " + cfg.Host
		}
		return fmt.Sprintf("%s cannot be reached (%v): is the cluster up, and are the kubeconfig (KUBECONFIG, --kubeconfig) and --context the right ones?", host, netErr)
	}
	var noKind *meta.NoKindMatchError
	if errors.As(err, &noKind) {
		prefix := strings.TrimSuffix(err.Error(), noKind.Error())
		gv := noKind.GroupKind.Group
		if len(noKind.SearchedVersions) > 0 {
			gv += "/" + strings.Join(noKind.SearchedVersions, ",")
		}
		return fmt.Sprintf("%sthe API server does not serve %s (%s): the CRDs of jack-operator are not installed, or are older than this plugin; kubectl jack doctor says which, and how to install them",
			prefix, noKind.GroupKind.Kind, gv)
	}
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		return err.Error()
	}
	st := status.Status()
	if strings.Contains(st.Message, "failed calling webhook") {
		return err.Error() + ": the operator serves this webhook; is it running and ready? kubectl jack doctor says what is wrong"
	}
	if st.Reason != metav1.StatusReasonInvalid || st.Details == nil || len(st.Details.Causes) == 0 {
		// A webhook's refusal in its own words, without the API server's
		// preamble.
		return webhookDenied.ReplaceAllString(err.Error(), "")
	}
	// What the verb was doing, as its wrapping said ("creating the JackUser
	// alice: ..."), then each cause.
	prefix := strings.TrimSuffix(err.Error(), st.Message)
	causes := make([]string, 0, len(st.Details.Causes))
	for _, c := range st.Details.Causes {
		if strings.Contains(c.Message, notChecked) && len(st.Details.Causes) > 1 {
			// The API server's note that it skipped the CEL rules because
			// of the other causes ("<nil>: Invalid value: null: some
			// validation rules were not checked..."): nothing to fix.
			continue
		}
		msg := invalidValue.ReplaceAllString(c.Message, "")
		if c.Field != "" {
			msg = c.Field + ": " + msg
		}
		causes = append(causes, msg)
	}
	return prefix + strings.Join(causes, "; ")
}

// invalidValue is the prefix the API server puts before a CEL rule's message
// (`Invalid value: "string": email must be ...`): the value's type, which
// says nothing to the user. A field's sentence is what follows.
var invalidValue = regexp.MustCompile(`^Invalid value: "(string|object|array|integer|number|boolean)": `)

// notChecked is what the API server says, as a cause of its own, when an
// object's schema errors kept it from running the CEL rules.
const notChecked = "some validation rules were not checked"

// webhookDenied is the API server's preamble to an admission webhook's
// refusal; what follows is the webhook's sentence.
var webhookDenied = regexp.MustCompile(`admission webhook "[^"]+" denied the request: `)
