{{- /* Names and labels shared by every template. */ -}}

{{- define "kcost.fullname" -}}
{{- if contains "kcost" .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-kcost" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "kcost.selectorLabels" -}}
app.kubernetes.io/name: kcost
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "kcost.labels" -}}
{{ include "kcost.selectorLabels" . }}
app.kubernetes.io/part-of: kcost
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "kcost.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "kcost.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "kcost.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- /* The webhook's address as the API server calls it: the Service's DNS name (port 443). */ -}}
{{- define "kcost.webhookURL" -}}
{{- printf "https://%s-webhook.%s.svc" (include "kcost.fullname" .) .Release.Namespace -}}
{{- end -}}

{{- /* kcost's own identity: the webhook never sees its writes (KCOST_WEBHOOK_TRUSTED_USERS). */ -}}
{{- define "kcost.serviceAccountUser" -}}
{{- printf "system:serviceaccount:%s:%s" .Release.Namespace (include "kcost.serviceAccountName" .) -}}
{{- end -}}

{{- /* The restricted Pod Security Standard, for every container. */ -}}
{{- define "kcost.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- /* What every kcost process reads (kcost/config.py); the history store from SQLite or a Secret. */ -}}
{{- define "kcost.env" -}}
- name: KCOST_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: KCOST_LOG_FORMAT
  value: {{ .Values.logFormat | quote }}
- name: KCOST_WEBHOOK_TRUSTED_USERS
  value: {{ include "kcost.serviceAccountUser" . | quote }}
{{- if eq .Values.history.database "postgresql" }}
- name: KCOST_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ required "history.postgresql.existingSecret: name the Secret holding the PostgreSQL URL" .Values.history.postgresql.existingSecret }}
      key: {{ .Values.history.postgresql.secretKey }}
{{- else }}
- name: KCOST_DATABASE_URL
  value: sqlite+aiosqlite:////var/lib/kcost/history.db
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "kcost.historyMount" -}}
{{- if eq .Values.history.database "sqlite" }}
- name: history
  mountPath: /var/lib/kcost
{{- end }}
{{- end -}}
