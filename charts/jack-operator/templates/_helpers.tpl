{{/* The chart's name, overridable. */}}
{{- define "jack-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The name every resource is named after: the release name when it already
contains the chart's name ("jack-operator" stays "jack-operator"), else
release-chart. Capped at 40 characters so that the longest suffix added to it
("-leader-election", "-pod-injection", "-webhook-certs") still makes a valid name.
*/}}
{{- define "jack-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Labels that select the operator's pods; never change them on upgrade. */}}
{{- define "jack-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "jack-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels on every object: the chart's own, then commonLabels. */}}
{{- define "jack-operator.labels" -}}
{{- $own := include "jack-operator.ownLabels" . | fromYaml }}
{{- toYaml (merge $own (deepCopy (default (dict) .Values.commonLabels))) }}
{{- end }}

{{- define "jack-operator.ownLabels" -}}
{{ include "jack-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
An object's annotations block: its own (a dict, the second argument; they
win) over commonAnnotations; nothing when both are empty. Use it at the
indentation of metadata's fields:
  {{- include "jack-operator.annotations" (list . $own) | nindent 2 }}
*/}}
{{- define "jack-operator.annotations" -}}
{{- $root := index . 0 }}
{{- $all := merge (deepCopy (default (dict) (index . 1))) (deepCopy (default (dict) $root.Values.commonAnnotations)) }}
{{- with $all -}}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{- define "jack-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "jack-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name must name an existing ServiceAccount when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Names the operator is told by flag, so several releases never collide. */}}
{{- define "jack-operator.webhookServiceName" -}}
{{- include "jack-operator.fullname" . }}-webhook
{{- end }}
{{- define "jack-operator.webhookSecretName" -}}
{{- include "jack-operator.fullname" . }}-webhook-certs
{{- end }}
{{- define "jack-operator.validatingWebhookName" -}}
{{- include "jack-operator.fullname" . }}-validating
{{- end }}
{{- define "jack-operator.mutatingWebhookName" -}}
{{- include "jack-operator.fullname" . }}-pod-injection
{{- end }}
{{- define "jack-operator.certificateName" -}}
{{- include "jack-operator.fullname" . }}-webhook
{{- end }}

{{/* Where the webhook server reads tls.crt and tls.key: the Secret, mounted. */}}
{{- define "jack-operator.webhookCertDir" -}}
/etc/jack-operator/webhook-certs
{{- end }}

{{/*
An image reference from {registry, repository, tag, digest}:
<registry>/<repository>:<tag>, with @<digest> after it when a digest is given
(the tag kept for people reading it). The tag defaults to appVersion; the
registry is global.imageRegistry when set, else the image's own, else the
optional third argument (the sidecar's falls back to image.registry); an
empty registry adds no prefix. Used by the operator's Deployment, its
--sidecar-image and the helm test pod:
  {{ include "jack-operator.image" (list .Values.sidecar.image . .Values.image.registry) }}
*/}}
{{- define "jack-operator.image" -}}
{{- $img := index . 0 }}{{- $root := index . 1 }}
{{- $ref := printf "%s:%s" $img.repository (default $root.Chart.AppVersion $img.tag) }}
{{- with include "jack-operator.imageRegistry" . }}
{{- $ref = printf "%s/%s" . $ref }}
{{- end }}
{{- with $img.digest }}
{{- $ref = printf "%s@%s" $ref . }}
{{- end }}
{{- $ref }}
{{- end }}

{{/* The registry of an image, as "jack-operator.image" takes its arguments. */}}
{{- define "jack-operator.imageRegistry" -}}
{{- $img := index . 0 }}{{- $root := index . 1 }}
{{- $registry := $img.registry }}
{{- if and (not $registry) (gt (len .) 2) }}
{{- $registry = index . 2 }}
{{- end }}
{{- with $root.Values.global }}{{ with .imageRegistry }}{{ $registry = . }}{{ end }}{{ end }}
{{- $registry }}
{{- end }}

{{/*
Refuses a repository that starts with a registry host (a first part with a
dot, or localhost) while a registry is set too: the reference would name
the registry twice. Arguments as "jack-operator.image", then the values path.
*/}}
{{- define "jack-operator.validateImage" -}}
{{- $img := index . 0 }}{{- $path := index . 3 }}
{{- $registry := include "jack-operator.imageRegistry" (slice . 0 3) }}
{{- $parts := splitList "/" $img.repository }}
{{- $first := first $parts }}
{{- if and $registry (gt (len $parts) 1) (or (contains "." $first) (eq $first "localhost")) }}
{{- fail (printf "%s.repository %q starts with a registry (%s) while the registry is %q, so the image would be %s/%s: set %s.registry to the registry and %s.repository to the image's name in it alone." $path $img.repository $first $registry $registry $img.repository $path $path) }}
{{- end }}
{{- end }}

{{/*
The annotation by which cert-manager's cainjector fills in caBundle. In self
mode the operator's leader patches caBundle itself and the chart never sets it,
so an upgrade leaves the patched value alone.
*/}}
{{- define "jack-operator.webhookAnnotations" -}}
{{- if eq .Values.webhook.certMode "cert-manager" }}
cert-manager.io/inject-ca-from: {{ .Release.Namespace }}/{{ include "jack-operator.certificateName" . }}
{{- end }}
{{- end }}

{{/* The Service reference of a webhook, keeping the generated path. */}}
{{- define "jack-operator.clientConfig" -}}
{{- $root := index . 0 }}{{- $hook := index . 1 }}
service:
  name: {{ include "jack-operator.webhookServiceName" $root }}
  namespace: {{ $root.Release.Namespace }}
  path: {{ $hook.clientConfig.service.path }}
{{- end }}

{{/* Rules that values.schema.json cannot say, each refused with a sentence. */}}
{{- define "jack-operator.validate" -}}
{{- include "jack-operator.validateImage" (list .Values.image . "" "image") }}
{{- include "jack-operator.validateImage" (list .Values.sidecar.image . .Values.image.registry "sidecar.image") }}
{{- if and (gt (int .Values.replicaCount) 1) (not .Values.leaderElection.enabled) }}
{{- fail (printf "replicaCount is %d but leaderElection.enabled is false: replicas without a leader would rotate keys and renew certificates at the same time. Turn leaderElection.enabled on, or set replicaCount to 1." (int .Values.replicaCount)) }}
{{- end }}
{{- if and .Values.webhook.certManager.issuerRef (not .Values.webhook.certManager.issuerRef.name) }}
{{- fail "webhook.certManager.issuerRef needs a name: the Issuer or ClusterIssuer that signs the webhook's serving certificate." }}
{{- end }}
{{- if .Values.podDisruptionBudget.enabled }}
{{- if ge (int .Values.podDisruptionBudget.minAvailable) (int .Values.replicaCount) }}
{{- if gt (int .Values.replicaCount) 1 }}
{{- fail (printf "podDisruptionBudget.minAvailable (%d) must be below replicaCount (%d), or no node could ever be drained." (int .Values.podDisruptionBudget.minAvailable) (int .Values.replicaCount)) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/* A Prometheus-style duration (90s, 15m, 2h, 1d) in seconds. */}}
{{- define "jack-operator.seconds" -}}
{{- $d := toString . }}
{{- $units := dict "s" 1 "m" 60 "h" 3600 "d" 86400 }}
{{- $unit := substr (int (sub (len $d) 1)) (len $d) $d }}
{{- mul (int (trimSuffix $unit $d)) (get $units $unit) }}
{{- end }}

{{/*
A list that hack/chartgen generated into files/, refused when missing or empty
(a chart packaged without running `make manifests` would otherwise install an
operator with no permissions or no webhooks).
*/}}
{{- define "jack-operator.generatedList" -}}
{{- $list := index . 0 }}{{- $path := index . 1 }}
{{- if not $list }}
{{- fail (printf "%s is missing or empty: run `make manifests` (hack/chartgen) before packaging the chart." $path) }}
{{- end }}
{{- end }}

{{/*
"true" when a Prometheus Operator object ({enabled, force} in values) is to be
rendered: enabled, and the cluster serves monitoring.coreos.com/v1 or force
says to render it anyway. Enabled without the API, it is skipped (NOTES.txt
says so) rather than failing the install.
*/}}
{{- define "jack-operator.monitoringAPI" -}}
{{- $root := index . 0 }}{{- $v := index . 1 }}
{{- if and $v.enabled (or $v.force ($root.Capabilities.APIVersions.Has "monitoring.coreos.com/v1")) }}true{{ end }}
{{- end }}
