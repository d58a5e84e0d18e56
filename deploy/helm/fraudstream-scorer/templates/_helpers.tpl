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

{{/* Credentials of every pod (scorer, trainer): settings that name files, user names from
     secretKeyRef, secret volumes mounted read-only under /etc/fraudstream (passwords are files). */}}
{{- define "fraudstream.credentialEnv" -}}
- name: HOME  # the root filesystem is read-only; /tmp is an emptyDir
  value: /tmp
{{- with .Values.security.kafka.existingSecret }}
- name: FRAUDSTREAM_KAFKA_SECURITY_PROTOCOL
  value: {{ $.Values.security.kafka.protocol | quote }}
- name: FRAUDSTREAM_KAFKA_SASL_MECHANISM
  value: {{ $.Values.security.kafka.saslMechanism | quote }}
- name: FRAUDSTREAM_KAFKA_SASL_USERNAME
  valueFrom:
    secretKeyRef: {name: {{ . | quote }}, key: username}
- name: FRAUDSTREAM_KAFKA_SASL_PASSWORD_FILE
  value: /etc/fraudstream/kafka/password
- name: FRAUDSTREAM_KAFKA_SSL_CA_LOCATION
  value: /etc/fraudstream/kafka/ca.crt
{{- end }}
{{- if .Values.security.registry.existingSecret }}
- name: FRAUDSTREAM_REGISTRY_BASIC_AUTH_USER_INFO_FILE
  value: /etc/fraudstream/registry/user-info
{{- end }}
{{- with .Values.security.ksqldb.existingSecret }}
- name: FRAUDSTREAM_KSQL_USERNAME
  valueFrom:
    secretKeyRef: {name: {{ . | quote }}, key: username}
- name: FRAUDSTREAM_KSQL_PASSWORD_FILE
  value: /etc/fraudstream/ksqldb/password
{{- end }}
{{- end -}}

{{- define "fraudstream.credentialMounts" -}}
- name: tmp
  mountPath: /tmp
{{- range $name := list "kafka" "registry" "ksqldb" }}
{{- if (index $.Values.security $name).existingSecret }}
- name: {{ $name }}-credentials
  mountPath: /etc/fraudstream/{{ $name }}
  readOnly: true
{{- end }}
{{- end }}
{{- end -}}

{{- define "fraudstream.credentialVolumes" -}}
- name: tmp
  emptyDir: {}
{{- range $name := list "kafka" "registry" "ksqldb" }}
{{- with (index $.Values.security $name).existingSecret }}
- name: {{ $name }}-credentials
  secret:
    secretName: {{ . | quote }}
    defaultMode: 0400
{{- end }}
{{- end }}
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

{{/* The monitor's selector labels: its own name, so the scorer's Service, PodMonitor and
     PDB never select it; app.kubernetes.io/name is its Prometheus job. */}}
{{- define "monitor.selectorLabels" -}}
app.kubernetes.io/name: fraudstream-monitor
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "monitor.labels" -}}
{{ include "monitor.selectorLabels" . }}
app.kubernetes.io/component: monitor
app.kubernetes.io/part-of: fraudstream
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}
