{{/* Chart name, truncated to the 63 characters a label allows. */}}
{{- define "tributary.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Fully qualified name of the operator's objects. */}}
{{- define "tributary.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- printf "%s-operator" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s-operator" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "tributary.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tributary.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{- define "tributary.labels" -}}
{{ include "tributary.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: tributary
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "tributary.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "tributary.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* repository[:tag|@digest] of an image block; the tag defaults to the chart's appVersion. */}}
{{- define "tributary.image" -}}
{{- $image := index . 0 -}}
{{- $chart := index . 1 -}}
{{- if $image.digest -}}
{{- printf "%s@%s" $image.repository $image.digest -}}
{{- else -}}
{{- printf "%s:%s" $image.repository (default $chart.AppVersion $image.tag) -}}
{{- end -}}
{{- end -}}

{{/*
The operator's permissions on the objects it reconciles and owns, shared by the ClusterRole and per-namespace Roles.
Only what the code uses; docs/operator.md ("RBAC") says why each rule exists.
*/}}
{{- define "tributary.namespacedRules" -}}
# Our kinds: read and watch. Spec and metadata belong to the user (patch/update would allow spec writes).
- apiGroups: ["tributary.dev"]
  resources: ["kafkaclusters", "kafkausers"]
  verbs: ["get", "list", "watch"]
# KafkaTopic: also `patch` (never `update`) so the operator can add and remove its finalizer: Kubernetes has no
# finalizers subresource that can be written, and a JSON patch touches metadata.finalizers only (docs/operator.md).
- apiGroups: ["tributary.dev"]
  resources: ["kafkatopics"]
  verbs: ["get", "list", "watch", "patch"]
# Status of a KafkaCluster or KafkaTopic: a merge patch of the status subresource, only when it changed.
- apiGroups: ["tributary.dev"]
  resources: ["kafkaclusters/status", "kafkatopics/status"]
  verbs: ["patch"]
# Owner references with blockOwnerDeletion on the objects made for a KafkaCluster: where the
# OwnerReferencesPermissionEnforcement admission plugin runs (OpenShift), setting one needs update on the owner's
# finalizers subresource. The operator sets no finalizer on a KafkaCluster.
- apiGroups: ["tributary.dev"]
  resources: ["kafkaclusters/finalizers"]
  verbs: ["update"]
# Objects made for a KafkaCluster: watched, and written by server-side apply (a PATCH that creates them the first time).
# Deleting them is the garbage collector's job, through the owner references, with two exceptions: a StatefulSet whose
# claim template must grow (volume expansion) is deleted with propagationPolicy Orphan and applied again, and a
# Service the spec no longer asks for (an external listener removed, a broker scaled away) is pruned.
- apiGroups: ["apps"]
  resources: ["statefulsets"]
  verbs: ["list", "watch", "create", "patch", "delete"]
- apiGroups: [""]
  resources: ["services"]
  verbs: ["list", "watch", "create", "patch", "delete"]
- apiGroups: [""]
  resources: ["configmaps", "serviceaccounts"]
  verbs: ["list", "watch", "create", "patch"]
- apiGroups: ["policy"]
  resources: ["poddisruptionbudgets"]
  verbs: ["list", "watch", "create", "patch"]
# Pods: watched for readiness and config hash, deleted one at a time by the roller (StatefulSets use OnDelete).
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["list", "watch", "delete"]
# The brokers' data claims (made by the StatefulSet controller): watched for resize progress, and their storage
# request patched upwards for a volume expansion. Never created or deleted by the operator.
- apiGroups: [""]
  resources: ["persistentvolumeclaims"]
  verbs: ["list", "watch", "patch"]
# core/v1 Events about our objects (created objects and topics, pod restarts, warnings).
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
{{- end -}}
