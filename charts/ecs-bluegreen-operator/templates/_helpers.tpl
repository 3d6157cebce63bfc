{{/* Chart name, overridable. */}}
{{- define "ecsbg.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full resource name: <release>-<chart>, or <release> when the release name already contains the chart name.
Kubernetes names are limited to 63 characters (DNS label).
*/}}
{{- define "ecsbg.fullname" -}}
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

{{- define "ecsbg.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels: stable across upgrades (a Deployment selector is immutable). */}}
{{- define "ecsbg.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ecsbg.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Recommended labels (app.kubernetes.io/*, helm.sh/chart). */}}
{{- define "ecsbg.labels" -}}
helm.sh/chart: {{ include "ecsbg.chart" . }}
{{ include "ecsbg.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: ecs-bluegreen-operator
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "ecsbg.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "ecsbg.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Image reference: repository@digest when a digest is given, else repository:tag (tag defaults to appVersion). */}}
{{- define "ecsbg.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
Rules on the EcsBlueGreenRelease objects and the Events the operator posts, shared by the ClusterRole
(all namespaces) and the per-namespace Roles (watchNamespaces). docs/design.md "Operator settings" lists them.
*/}}
{{- define "ecsbg.namespacedRules" -}}
# Least privilege, measured on a real kube-apiserver (tests/integration/test_chart_rbac.py): kopf lists and watches,
# and patches finalizers (spec.onDelete: Rollback adds ecsbg.dev/rollback-on-delete); it never GETs a single object.
- apiGroups: ["ecsbg.dev"]
  resources: ["ecsbluegreenreleases"]
  verbs: ["list", "watch", "patch", "create"]
- apiGroups: ["ecsbg.dev"]
  resources: ["ecsbluegreenreleases/status"]
  verbs: ["patch"]
# The operator posts core v1 Events (ecsbg.k8s.events.KubeEventSink; kopf's posting is off), always with a POST of
# a new generateName'd Event: it never patches one.
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
# Automated analysis reads the template a release names, and a Secret a template argument names, by name only.
- apiGroups: ["ecsbg.dev"]
  resources: ["ecsanalysistemplates"]
  verbs: ["get"]
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get"]
# Notifications: the sender reads the EcsNotificationProvider a release subscribes to (and its Secret), by name.
- apiGroups: ["ecsbg.dev"]
  resources: ["ecsnotificationproviders"]
  verbs: ["get"]
# Release waves (ecsbg.waves): kopf lists and watches them, the wave loop patches their status; it lists the
# namespace's releases and creates and patches its child releases (the first rule: list, create, patch).
- apiGroups: ["ecsbg.dev"]
  resources: ["ecsreleasewaves"]
  verbs: ["list", "watch"]
- apiGroups: ["ecsbg.dev"]
  resources: ["ecsreleasewaves/status"]
  verbs: ["patch"]
{{- end }}

{{/* Cluster-scoped objects kopf observes at any scope: CRDs (resource discovery) and namespaces. */}}
{{- define "ecsbg.clusterRules" -}}
- apiGroups: ["apiextensions.k8s.io"]
  resources: ["customresourcedefinitions"]
  verbs: ["list", "watch"]
- apiGroups: [""]
  resources: ["namespaces"]
  verbs: ["list", "watch"]
# EcsReleasePolicy is cluster-scoped: listed and watched (a kopf index), never read one by one, never written.
- apiGroups: ["ecsbg.dev"]
  resources: ["ecsreleasepolicies"]
  verbs: ["list", "watch"]
- apiGroups: ["ecsbg.dev"]
  resources: ["clusterecsanalysistemplates"]
  verbs: ["get"]
- apiGroups: ["ecsbg.dev"]
  resources: ["clusterecsnotificationproviders"]
  verbs: ["get"]
{{- end }}
