{{- define "ebs.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}{{ .Release.Name | trunc 50 | trimSuffix "-" }}{{- else -}}{{ printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" }}{{- end -}}
{{- end -}}

{{- define "ebs.labels" -}}
app.kubernetes.io/part-of: ebs
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "ebs.selector" -}}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/name: {{ .name }}
{{- end -}}

{{- define "ebs.image" -}}
{{ printf "%s-%s:%s" .root.Values.image.repository .name (default .root.Chart.AppVersion .root.Values.image.tag) }}
{{- end -}}

{{/* Directory under /etc/ebs/secrets for a secrets.<key> entry. */}}
{{- define "ebs.secretDir" -}}
{{- if eq . "fedoraMessaging" -}}fedora-messaging{{- else -}}{{ . }}{{- end -}}
{{- end -}}

{{/* Which services mount each secrets.<key>: a secret reaches only the pod that uses it. */}}
{{- define "ebs.secretUsers" -}}
database: [status]
smtp: [status]
oidc: [status]
koji: [koji-worker]
bodhi: [bodhi-publisher]
fedoraMessaging: [bridge]
{{- end -}}
