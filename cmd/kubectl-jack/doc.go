// Command kubectl-jack is a kubectl plugin for the day-2 work on Jack's
// authentication: installed on PATH, it runs as `kubectl jack ...`. It talks
// to the API server like kubectl (--kubeconfig, --context, -n), and changes
// only what a platform engineer could change with kubectl apply, patch and
// annotate: the operator does the rest, and the verbs that wait for it say
// so with --wait.
//
// Verbs:
//
//	user add NAME --email E --role R [--name DISPLAY] [--password-stdin | --generate] [--wait [--timeout D]]
//	                              a JackUser and its password Secret (NAME-password), together
//	user passwd NAME [--password-stdin | --generate]
//	                              a new password in the Secret the JackUser names
//	user disable|enable NAME      spec.disabled
//	user end-sessions NAME [--wait [--timeout D]]
//	                              ends every session of the user (auth.jack.io/end-sessions)
//	apikey create NAME --role R [--expires T|D] [--routes R,...] [--owner O] [--display-name D]
//	                              a JackAPIKey; prints its key once, when the operator made it
//	apikey rotate NAME [--print]  a new value (auth.jack.io/rotate); the previous one overlaps
//	apikey disable|enable NAME    spec.disabled
//	key status [NAME]             a SigningKey's key ring as a table
//	key rotate NAME [--wait [--timeout D]]
//	key revoke NAME KID [--yes]
//	inject explain TARGET         why a pod (or a deployment's pods) is or is not injected
//	doctor                        the operator, its webhook, CRDs and sidecars, each problem with its fix
//	version                       this plugin's build
//	completion bash|zsh|fish|powershell
//
// A password or an API key is printed only by the verb that generated it
// (user add|passwd --generate, apikey create, apikey rotate --print), once;
// nothing else it prints, its errors included, holds one. docs/kubectl-jack.md
// has an example of every verb.
package main
