{{/* Release-scoped name, cut to 52 characters so suffixes (-reconciler, -migrate) stay within 63. */}}
{{- define "kdm.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 52 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Cluster-scoped objects are shared by every namespace: their names carry the release namespace. */}}
{{- define "kdm.clusterName" -}}
{{- printf "%s-%s" .Release.Namespace (include "kdm.fullname" .) | trunc 52 | trimSuffix "-" -}}
{{- end -}}

{{- define "kdm.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "kdm.labels" -}}
{{ include "kdm.selectorLabels" . }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: k8s-deployment-manager
{{- end -}}

{{- define "kdm.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* True ("true") when MANAGED_NAMESPACES holds a pattern: RBAC must then be cluster-wide. */}}
{{- define "kdm.clusterWide" -}}
{{- $wide := false -}}
{{- range .Values.managedNamespaces -}}
{{- if contains "*" . -}}{{- $wide = true -}}{{- end -}}
{{- end -}}
{{- if $wide -}}true{{- end -}}
{{- end -}}

{{- define "kdm.secretName" -}}
{{- default (include "kdm.fullname" .) .Values.existingSecret.name -}}
{{- end -}}

{{- define "kdm.validate" -}}
{{- if not .Values.managedNamespaces -}}
{{- fail "managedNamespaces must name at least one namespace (or `*`)" -}}
{{- end -}}
{{- if and (not .Values.existingSecret.name) (not .Values.databaseUrl) -}}
{{- fail "set databaseUrl (the chart stores it in a Secret) or existingSecret.name (a Secret holding DATABASE_URL)" -}}
{{- end -}}
{{- end -}}

{{/* Environment shared by every role: the ConfigMap, then DATABASE_URL from the Secret. */}}
{{- define "kdm.envFrom" -}}
envFrom:
  - configMapRef:
      name: {{ include "kdm.fullname" . }}
{{- end -}}

{{- define "kdm.databaseUrlEnv" -}}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "kdm.secretName" . }}
      key: {{ .Values.existingSecret.databaseUrlKey }}
{{- end -}}

{{/* Per-role env (values.<role>.env), rendered as a list. */}}
{{- define "kdm.roleEnv" -}}
{{- range $k, $v := . }}
- name: {{ $k }}
  value: {{ $v | toString | quote }}
{{- end }}
{{- end -}}

{{/* The pod spec parts every role shares. Call with (dict "ctx" $ "role" "worker"). */}}
{{- define "kdm.podCommon" -}}
{{- $ := .ctx -}}
serviceAccountName: {{ include "kdm.fullname" $ }}-{{ .role }}
securityContext:
  {{- toYaml $.Values.podSecurityContext | nindent 2 }}
{{- with $.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $.Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $.Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $.Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
volumes:
  # The root filesystem is read-only; Node and its libraries may still want a /tmp.
  - name: tmp
    emptyDir: {}
{{- end -}}

{{- define "kdm.podMetadata" -}}
{{- $ := .ctx -}}
labels:
  {{- include "kdm.selectorLabels" $ | nindent 2 }}
  app.kubernetes.io/component: {{ .role }}
  {{- with $.Values.podLabels }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
annotations:
  # Roll the pods when their settings change.
  checksum/config: {{ include (print $.Template.BasePath "/configmap.yaml") $ | sha256sum }}
  checksum/secret: {{ include (print $.Template.BasePath "/secret.yaml") $ | sha256sum }}
  {{- with $.Values.podAnnotations }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end -}}
