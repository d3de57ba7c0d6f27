{{/* Names */}}
{{- define "keyway-is.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "keyway-is.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "keyway-is.selectorLabels" -}}
app.kubernetes.io/name: {{ include "keyway-is.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: identity-server
{{- end -}}

{{- define "keyway-is.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "keyway-is.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: keyway
{{- end -}}

{{- define "keyway-is.serviceAccountName" -}}
{{- $sa := .Values.deployment.serviceAccount -}}
{{- if $sa.create -}}{{ default (include "keyway-is.fullname" .) $sa.name }}
{{- else -}}{{ default "default" $sa.name }}
{{- end -}}
{{- end -}}

{{- define "keyway-is.image" -}}
{{- $img := .Values.deployment.image -}}
{{- $ref := default "keyway/keyway" $img.repository -}}
{{- if $img.registry -}}{{- $ref = printf "%s/%s" (trimSuffix "/" $img.registry) $ref -}}{{- end -}}
{{- if $img.digest -}}
{{- if not (hasPrefix "sha256:" $img.digest) -}}{{- fail "deployment.image.digest must look like sha256:<hex>" -}}{{- end -}}
{{- printf "%s@%s" $ref $img.digest -}}
{{- else -}}
{{- printf "%s:%s" $ref (default .Chart.AppVersion ($img.tag | toString)) -}}
{{- end -}}
{{- end -}}

{{- define "keyway-is.ports" -}}
{{- $o := int (default 0 .Values.deploymentToml.server.offset) -}}
{{- if or (lt $o 0) (gt $o 50000) -}}{{- fail "deploymentToml.server.offset must be within 0..50000" -}}{{- end -}}
management: {{ add 9443 $o }}
offset: {{ $o }}
{{- end -}}

{{- define "keyway-is.hostname" -}}
{{- default (default "localhost" .Values.deployment.ingress.hostName) .Values.deploymentToml.server.hostname -}}
{{- end -}}

{{/* Where every password comes from (see the API Manager chart): existing, chart or none. */}}
{{- define "keyway-is.credentials" -}}
{{- $t := .Values.deploymentToml -}}
{{- $es := default dict $t.existingSecret -}}
{{- $ks := $t.keystore -}}
{{- $items := list
  (list "admin" $t.superAdmin.password $es.secretName $es.adminPasswordKey)
  (list "identity-db" $t.database.identity.password $es.secretName $es.identityDBPasswordKey)
  (list "shared-db" $t.database.shared.password $es.secretName $es.sharedDBPasswordKey)
  (list "user-db" $t.database.user.password $es.secretName $es.userDBPasswordKey)
  (list "primary-keystore" $ks.primary.password "" "")
  (list "primary-key" $ks.primary.keyPassword "" "")
  (list "tls-keystore" $ks.tls.password "" "")
  (list "tls-key" $ks.tls.keyPassword "" "")
  (list "internal-keystore" $ks.internal.password "" "")
  (list "internal-key" $ks.internal.keyPassword "" "")
  (list "truststore" $t.truststore.password "" "")
-}}
{{- range $items }}
{{- $id := index . 0 }}{{ $value := index . 1 | default "" | toString }}{{ $secret := index . 2 | default "" }}{{ $key := index . 3 | default "" }}
{{- $env := printf "KEYWAY_%s_PASSWORD" ($id | upper | replace "-" "_") }}
{{ $id }}:
  env: {{ $env }}
{{- if and $secret $key }}
  mode: existing
  secretName: {{ $secret }}
  secretKey: {{ $key }}
  ref: {{ printf "$env{%s}" $env | toJson }}
{{- else if $value }}
  mode: chart
  secretName: {{ printf "%s-credentials" (include "keyway-is.fullname" $) }}
  secretKey: {{ printf "%s-password" $id }}
  value: {{ $value | toJson }}
  ref: {{ printf "$env{%s}" $env | toJson }}
{{- else }}
  mode: none
{{- end }}
{{- end }}
{{- end -}}

{{/* TOML string (JSON escapes are valid TOML basic-string escapes). */}}
{{- define "keyway.tomlString" -}}
{{- . | toString | toJson -}}
{{- end -}}

{{/* Keystore file type from the explicit type or the file name. */}}
{{- define "keyway.keystoreType" -}}
{{- $t := upper (default "" .type) -}}
{{- if $t -}}
{{- if not (has $t (list "JKS" "PKCS12" "PEM")) -}}{{- fail (printf "keystore %s: type %q is not JKS, PKCS12 or PEM" .name .type) -}}{{- end -}}
{{- $t -}}
{{- else if or (hasSuffix ".p12" .name) (hasSuffix ".pfx" .name) -}}PKCS12
{{- else if or (hasSuffix ".pem" .name) (hasSuffix ".crt" .name) -}}PEM
{{- else -}}JKS
{{- end -}}
{{- end -}}

{{/* Database type: as given, or derived from the JDBC URL. */}}
{{- define "keyway.dbType" -}}
{{- $t := lower (default "" .type) -}}
{{- $url := default "" .url -}}
{{- if $t -}}
{{- if not (has $t (list "h2" "sqlite" "postgre" "postgres" "postgresql" "mysql" "mariadb")) -}}
{{- fail (printf "database type %q is not supported by Keyway (h2, postgre, mysql, mariadb)" .type) -}}
{{- end -}}
{{- $t -}}
{{- else if hasPrefix "jdbc:postgresql:" $url -}}postgre
{{- else if hasPrefix "jdbc:mysql:" $url -}}mysql
{{- else if hasPrefix "jdbc:mariadb:" $url -}}mariadb
{{- else if or (eq $url "") (hasPrefix "jdbc:h2:" $url) -}}h2
{{- else if or (hasPrefix "jdbc:oracle:" $url) (hasPrefix "jdbc:sqlserver:" $url) (hasPrefix "jdbc:db2:" $url) -}}
{{- fail (printf "database URL %q: Oracle, SQL Server and DB2 are not supported by Keyway (use PostgreSQL, MySQL or MariaDB)" $url) -}}
{{- end -}}
{{- end -}}

{{/* [database.pool_options]: the keys Keyway reads, with their TOML types. */}}
{{- define "keyway.poolOptions" -}}
{{- $ints := list "maxActive" "maxWait" "minIdle" "maxIdle" "validationInterval" "maxLifetime" -}}
{{- $bools := list "testOnBorrow" "defaultAutoCommit" -}}
{{- $ignored := list "testWhileIdle" -}}
{{- range $k, $v := .pool }}
{{- if has $k $ints }}
{{ $k }} = {{ int64 $v }}
{{- else if has $k $bools }}
{{ $k }} = {{ ternary "true" "false" (eq (toString $v) "true") }}
{{- else if eq $k "validationQuery" }}
{{ $k }} = {{ include "keyway.tomlString" $v }}
{{- else if not (has $k $ignored) }}
{{- fail (printf "%s.poolParameters.%s is not a pool option Keyway reads (maxActive, maxWait, minIdle, maxIdle, testOnBorrow, validationQuery, validationInterval, defaultAutoCommit, maxLifetime)" $.path $k) }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Does the extraConfigs TOML start with a table header? */}}
{{- define "keyway.checkExtraConfigs" -}}
{{- $first := "" -}}
{{- range (splitList "\n" (default "" .text)) -}}
{{- $l := trim . -}}
{{- if and (not $first) $l (not (hasPrefix "#" $l)) -}}{{- $first = $l -}}{{- end -}}
{{- end -}}
{{- if and $first (not (hasPrefix "[" $first)) -}}
{{- fail (printf "%s must start with a [table] header; its first line %q would silently join the chart's last table" .path $first) -}}
{{- end -}}
{{- end -}}

