{{/* Environment of the operator container: the contract with operator/main.ts (docs/operator.md). */}}
{{- define "veltrix.operatorEnv" -}}
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: VELTRIX_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: VELTRIX_POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: VELTRIX_LOG_LEVEL
  value: {{ .Values.operator.logLevel | quote }}
- name: VELTRIX_WATCH_NAMESPACE
  value: {{ .Values.operator.watchNamespace | quote }}
- name: VELTRIX_LEADER_ELECT
  value: {{ .Values.operator.leaderElection.enabled | quote }}
- name: VELTRIX_LEASE_NAME
  value: {{ include "veltrix.leaseName" . | quote }}
- name: VELTRIX_OWNER_DEPLOYMENT
  value: {{ include "veltrix.fullname" . | quote }}
- name: VELTRIX_LEASE_DURATION
  value: {{ printf "%ds" (int .Values.operator.leaderElection.leaseDurationSeconds) | quote }}
- name: VELTRIX_HTTP_PORT
  value: {{ .Values.operator.metricsPort | quote }}
- name: VELTRIX_WEBHOOK_PORT
  value: {{ .Values.operator.webhookPort | quote }}
- name: VELTRIX_WEBHOOK_CONFIG_NAME
  value: {{ include "veltrix.webhookConfigName" . | quote }}
- name: VELTRIX_WEBHOOK_SERVICE
  value: {{ include "veltrix.fullname" . | quote }}
- name: VELTRIX_WEBHOOK_SECRET
  value: {{ include "veltrix.webhookSecretName" . | quote }}
- name: VELTRIX_WEBHOOK_CERT_MODE
  value: {{ .Values.webhook.certificates.mode | quote }}
{{- if eq .Values.webhook.certificates.mode "certManager" }}
- name: VELTRIX_WEBHOOK_CERT_DIR
  value: /etc/veltrix/webhook-tls
{{- else }}
- name: VELTRIX_WEBHOOK_CERT_VALIDITY_DAYS
  value: {{ .Values.webhook.certificates.validityDays | quote }}
{{- end }}
- name: VELTRIX_NATS_URL
  value: {{ include "veltrix.natsUrl" . | quote }}
{{- if and (not .Values.nats.install) .Values.nats.credentialsSecret }}
- name: VELTRIX_NATS_CREDENTIALS_DIR
  value: /etc/veltrix/nats/credentials
{{- end }}
{{- if and (not .Values.nats.install) .Values.nats.tls.enabled }}
- name: VELTRIX_NATS_TLS
  value: "true"
{{- if .Values.nats.tls.secretName }}
- name: VELTRIX_NATS_TLS_DIR
  value: /etc/veltrix/nats/tls
{{- end }}
{{- with .Values.nats.tls.serverName }}
- name: VELTRIX_NATS_TLS_SERVER_NAME
  value: {{ . | quote }}
{{- end }}
{{- end }}
{{- with include "veltrix.natsAuthSecretName" . }}
- name: VELTRIX_NATS_AUTH_SECRET
  value: {{ . | quote }}
{{- end }}
{{- if and .Values.nats.install .Values.nats.bundled.auth.enabled }}
- name: VELTRIX_NATS_AUTH_GENERATE
  value: "true"
{{- end }}
{{- if include "veltrix.bundledNatsTls" . }}
- name: VELTRIX_NATS_TLS
  value: "true"
- name: VELTRIX_NATS_TLS_DIR
  value: /etc/veltrix/nats/tls
{{- end }}
- name: VELTRIX_SIDECAR_DEFAULTS_FILE
  value: /etc/veltrix/sidecar/defaults.json
{{- end }}
