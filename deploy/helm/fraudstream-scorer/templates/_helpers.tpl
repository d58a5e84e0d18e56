{{/* Resource name: the release name, or "fraudstream-scorer" for a release of that name. */}}
{{- define "scorer.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Selector labels; app.kubernetes.io/name is also the Prometheus job (PodMonitor jobLabel). */}}
{{- define "scorer.selectorLabels" -}}
app.kubernetes.io/name: fraudstream-scorer
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "scorer.labels" -}}
{{ include "scorer.selectorLabels" . }}
app.kubernetes.io/component: scorer
app.kubernetes.io/part-of: fraudstream
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "scorer.modelsClaim" -}}
{{- .Values.models.existingClaim | default (printf "%s-models" (include "scorer.fullname" .)) -}}
{{- end -}}

{{/* Refuse values that would leave replicas without partitions. */}}
{{- define "scorer.validate" -}}
{{- if and .Values.keda.enabled (gt (int .Values.keda.maxReplicas) (int .Values.liveTopicPartitions)) -}}
{{- fail (printf "keda.maxReplicas (%d) exceeds liveTopicPartitions (%d): replicas beyond the partition count sit idle" (int .Values.keda.maxReplicas) (int .Values.liveTopicPartitions)) -}}
{{- end -}}
{{- if and .Values.keda.enabled (gt (int .Values.keda.minReplicas) (int .Values.keda.maxReplicas)) -}}
{{- fail (printf "keda.minReplicas (%d) exceeds keda.maxReplicas (%d)" (int .Values.keda.minReplicas) (int .Values.keda.maxReplicas)) -}}
{{- end -}}
{{- if gt (int .Values.replicaCount) (int .Values.liveTopicPartitions) -}}
{{- fail (printf "replicaCount (%d) exceeds liveTopicPartitions (%d)" (int .Values.replicaCount) (int .Values.liveTopicPartitions)) -}}
{{- end -}}
{{- end -}}
