package main

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// sentence is what the user reads when a verb fails. An API server's refusal
// of an invalid object becomes its field messages — the CRD's own sentences
// (its CEL rules' messages), which are what kubectl apply would show — without
// the Go type noise around them.
//
// An API server that cannot be reached is named, with where its address
// came from, instead of Go's dial error alone.
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
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		return err.Error()
	}
	st := status.Status()
	if st.Reason != metav1.StatusReasonInvalid || st.Details == nil || len(st.Details.Causes) == 0 {
		return err.Error()
	}
	// What the verb was doing, as its wrapping said ("creating the JackUser
	// alice: ..."), then each cause.
	prefix := strings.TrimSuffix(err.Error(), st.Message)
	causes := make([]string, 0, len(st.Details.Causes))
	for _, c := range st.Details.Causes {
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
