{{/* Chart name, truncated to 63 characters (DNS label). */}}
{{- define "veltrix.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: "<release>-veltrix", or the release name when it already contains the chart name. */}}
{{- define "veltrix.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "veltrix.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every resource. */}}
{{- define "veltrix.labels" -}}
helm.sh/chart: {{ include "veltrix.chart" . }}
app.kubernetes.io/name: {{ include "veltrix.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: veltrix
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Selector labels of the operator pods (immutable: never add to these). */}}
{{- define "veltrix.selectorLabels" -}}
app.kubernetes.io/name: {{ include "veltrix.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "veltrix.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "veltrix.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "veltrix.webhookSecretName" -}}
{{- default (printf "%s-webhook-tls" (include "veltrix.fullname" .)) .Values.webhook.certificates.secretName }}
{{- end }}

{{- define "veltrix.webhookConfigName" -}}
{{- include "veltrix.fullname" . }}-{{ .Release.Namespace }}
{{- end }}

{{- define "veltrix.leaseName" -}}
{{- include "veltrix.fullname" . }}-leader
{{- end }}

{{/* "repository:tag" or "repository@digest"; the tag defaults to the chart's appVersion. */}}
{{- define "veltrix.image" -}}
{{- $img := index . 0 }}{{- $root := index . 1 }}
{{- if $img.digest }}
{{- printf "%s@%s" $img.repository $img.digest }}
{{- else }}
{{- printf "%s:%s" $img.repository (default $root.Chart.AppVersion $img.tag) }}
{{- end }}
{{- end }}

{{- define "veltrix.natsName" -}}
{{- include "veltrix.fullname" . }}-nats
{{- end }}

{{/* The NATS URL the operator and sidecars use. */}}
{{- define "veltrix.natsUrl" -}}
{{- if .Values.nats.install }}
{{- printf "nats://%s.%s.svc:4222" (include "veltrix.natsName" .) .Release.Namespace }}
{{- else }}
{{- required "nats.url is required when nats.install is false (point at your NATS, e.g. nats://nats.nats.svc:4222, or set nats.install=true)" .Values.nats.url }}
{{- end }}
{{- end }}

{{/*
JetStream's file store limit for a volume of the given Kubernetes quantity (Ki/Mi/Gi/Ti), in
bytes: 90% of the volume, leaving room for the filesystem and NATS's own metadata.
*/}}
{{- define "veltrix.jetstreamMaxBytes" -}}
{{- $n := regexFind "^[0-9]+" . | int64 }}
{{- $unit := regexFind "[KMGT]i$" . }}
{{- $pow := dict "Ki" 1 "Mi" 2 "Gi" 3 "Ti" 4 }}
{{- $bytes := $n }}
{{- range until (int (get $pow $unit)) }}{{ $bytes = mul $bytes 1024 }}{{ end }}
{{- div (mul $bytes 9) 10 }}
{{- end }}

{{/* Secret with the installation's NATS keys (operator/nats-identity/nats-auth-secret.ts); empty: no minting. */}}
{{- define "veltrix.natsAuthSecretName" -}}
{{- if .Values.nats.install }}
{{- if .Values.nats.bundled.auth.enabled }}{{ include "veltrix.fullname" . }}-nats-auth{{ end }}
{{- else }}
{{- .Values.nats.authSecret }}
{{- end }}
{{- end }}

{{/* "true" when the bundled NATS serves TLS. */}}
{{- define "veltrix.bundledNatsTls" -}}
{{- if and .Values.nats.install .Values.nats.bundled.tls.secretName }}true{{ end }}
{{- end }}
