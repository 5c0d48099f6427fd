{{/* Chart name, overridable. */}}
{{- define "voidkey.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Full resource name: RELEASE-voidkey, or RELEASE when it already is the chart name. */}}
{{- define "voidkey.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if eq .Release.Name (include "voidkey.name" .) -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "voidkey.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "voidkey.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels on every object. */}}
{{- define "voidkey.labels" -}}
helm.sh/chart: {{ include "voidkey.chart" . }}
app.kubernetes.io/name: {{ include "voidkey.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: voidkey
{{- end -}}

{{/* Selector of the broker pods (stable across upgrades). */}}
{{- define "voidkey.selectorLabels" -}}
app.kubernetes.io/name: {{ include "voidkey.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: broker
{{- end -}}

{{- define "voidkey.redisName" -}}
{{- printf "%s-redis" (include "voidkey.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Selector of the Redis pods. */}}
{{- define "voidkey.redisSelectorLabels" -}}
app.kubernetes.io/name: {{ include "voidkey.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: redis
{{- end -}}

{{- define "voidkey.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "voidkey.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "voidkey.secretName" -}}
{{- default (include "voidkey.fullname" .) .Values.secrets.existingSecret -}}
{{- end -}}

{{/* $REDIS_URL for the config's ${REDIS_URL}: the in-cluster Redis, or redis.externalUrl. */}}
{{- define "voidkey.redisUrl" -}}
{{- if .Values.redis.enabled -}}
{{- printf "redis://:$(REDIS_PASSWORD)@%s:6379/0" (include "voidkey.redisName" .) -}}
{{- else if .Values.config.redis -}}
{{- required "config.redis is set: set redis.enabled, or redis.externalUrl, or config.redis: null" .Values.redis.externalUrl -}}
{{- end -}}
{{- end -}}

{{/*
Seconds Kubernetes waits between deleting a pod and killing it: preStop sleep,
then the broker's drainDelay and shutdownGracePeriod (ms), plus a margin.
*/}}
{{- define "voidkey.terminationGracePeriodSeconds" -}}
{{- add .Values.lifecycle.preStopSleepSeconds (div .Values.config.server.drainDelay 1000) (div .Values.config.server.shutdownGracePeriod 1000) .Values.lifecycle.extraGraceSeconds -}}
{{- end -}}
