{{/* Names */}}
{{- define "keyway-apim.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "keyway-apim.fullname" -}}
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

{{- define "keyway-apim.selectorLabels" -}}
app.kubernetes.io/name: {{ include "keyway-apim.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: apim
{{- end -}}

{{- define "keyway-apim.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "keyway-apim.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: keyway
{{- end -}}

{{- define "keyway-apim.serviceAccountName" -}}
{{- $sa := .Values.wso2.deployment.serviceAccount -}}
{{- if and .Values.aws.enabled .Values.aws.serviceAccountName -}}{{ .Values.aws.serviceAccountName }}
{{- else if and .Values.azure.enabled .Values.azure.serviceAccountName -}}{{ .Values.azure.serviceAccountName }}
{{- else if and .Values.gcp.enabled .Values.gcp.serviceAccountName -}}{{ .Values.gcp.serviceAccountName }}
{{- else if $sa.create -}}{{ default (include "keyway-apim.fullname" .) $sa.name }}
{{- else -}}{{ default "default" $sa.name }}
{{- end -}}
{{- end -}}

{{- define "keyway-apim.image" -}}
{{- $img := .Values.wso2.deployment.image -}}
{{- /* The seed's values leave repository empty: that means Keyway's own image. */ -}}
{{- $repo := default "keyway/keyway" $img.repository -}}
{{- $ref := $repo -}}
{{- if $img.registry -}}{{- $ref = printf "%s/%s" (trimSuffix "/" $img.registry) $repo -}}{{- end -}}
{{- if $img.digest -}}
{{- if not (hasPrefix "sha256:" $img.digest) -}}{{- fail "wso2.deployment.image.digest must look like sha256:<hex>" -}}{{- end -}}
{{- printf "%s@%s" $ref $img.digest -}}
{{- else -}}
{{- printf "%s:%s" $ref (default .Chart.AppVersion ($img.tag | toString)) -}}
{{- end -}}
{{- end -}}

{{/* Ports: base + [server] offset, the same arithmetic as config.Ports(). */}}
{{- define "keyway-apim.ports" -}}
{{- $o := int (default 0 .Values.wso2.apim.portOffset) -}}
{{- if or (lt $o 0) (gt $o 50000) -}}{{- fail "wso2.apim.portOffset must be within 0..50000" -}}{{- end -}}
management: {{ add 9443 $o }}
gatewayHTTPS: {{ add 8243 $o }}
gatewayHTTP: {{ add 8280 $o }}
offset: {{ $o }}
{{- end -}}

{{/* The four entry points; controlPlane (Pattern 6 docs) overrides management. */}}
{{- define "keyway-apim.ingresses" -}}
{{- $ing := .Values.kubernetes.ingress -}}
{{- $mgmt := mergeOverwrite (deepCopy (default dict $ing.management)) (deepCopy (default dict $ing.controlPlane)) -}}
{{- if not (hasKey $mgmt "enabled") -}}{{- $_ := set $mgmt "enabled" true -}}{{- end -}}
management: {{ $mgmt | toJson }}
gateway: {{ default dict $ing.gateway | toJson }}
websocket: {{ default dict $ing.websocket | toJson }}
websub: {{ default dict $ing.websub | toJson }}
{{- end -}}

{{- define "keyway-apim.hostname" -}}
{{- $ings := include "keyway-apim.ingresses" . | fromYaml -}}
{{- default (default "localhost" $ings.management.hostname) .Values.wso2.apim.configurations.hostname -}}
{{- end -}}

{{/*
Credentials: where every password comes from. One place decides, and the
ConfigMap, the container env and the chart's Secret all read the result:
  vault     -> $secret{alias} with the cipher text in [secrets]
  existing  -> $env{VAR} from an existing Secret
  chart     -> $env{VAR} from <fullname>-credentials
  none      -> not rendered
*/}}
{{- define "keyway-apim.credentials" -}}
{{- $c := .Values.wso2.apim.configurations -}}
{{- $es := default dict $c.existingSecret -}}
{{- $jks := default dict $c.security.jksExistingSecret -}}
{{- $ks := $c.security.keystores -}}
{{- $vault := .Values.wso2.apim.secureVaultEnabled -}}
{{- $items := list
  (list "admin" $c.adminPassword $es.secretName $es.adminPasswordKey true)
  (list "apim-db" $c.databases.apim_db.password $es.secretName $es.apimDBPasswordKey true)
  (list "shared-db" $c.databases.shared_db.password $es.secretName $es.sharedDBPasswordKey true)
  (list "primary-keystore" $ks.primary.password $jks.secretName $jks.primaryKeystorePasswordKey true)
  (list "primary-key" $ks.primary.keyPassword $jks.secretName $jks.primaryKeystoreKeyPasswordKey true)
  (list "tls-keystore" $ks.tls.password $jks.secretName $jks.tlsKeystorePasswordKey true)
  (list "tls-key" $ks.tls.keyPassword $jks.secretName $jks.tlsKeystoreKeyPasswordKey true)
  (list "internal-keystore" $ks.internal.password $jks.secretName $jks.internalKeystorePasswordKey false)
  (list "internal-key" $ks.internal.keyPassword $jks.secretName $jks.internalKeystoreKeyPasswordKey false)
  (list "truststore" $c.security.truststore.password $jks.secretName $jks.truststorePasswordKey true)
-}}
{{- range $items }}
{{- $id := index . 0 }}{{ $value := index . 1 | default "" | toString }}{{ $secret := index . 2 | default "" }}{{ $key := index . 3 | default "" }}{{ $vaultable := index . 4 }}
{{- $env := printf "KEYWAY_%s_PASSWORD" ($id | upper | replace "-" "_") }}
{{ $id }}:
  env: {{ $env }}
{{- if and $vault $vaultable $value }}
  mode: vault
  alias: {{ printf "%s_password" ($id | replace "-" "_") }}
  cipher: {{ $value | toJson }}
  ref: {{ printf "$secret{%s_password}" ($id | replace "-" "_") | toJson }}
{{- else if and $secret $key }}
  mode: existing
  secretName: {{ $secret }}
  secretKey: {{ $key }}
  ref: {{ printf "$env{%s}" $env | toJson }}
{{- else if $value }}
  mode: chart
  secretName: {{ printf "%s-credentials" (include "keyway-apim.fullname" $) }}
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

{{- define "keyway-apim.secretProviderClassName" -}}
{{- $default := printf "%s-secret-provider" (include "keyway-apim.fullname" .) -}}
{{- if .Values.aws.enabled -}}{{ default $default .Values.aws.secretsManager.secretProviderClass }}
{{- else if .Values.azure.enabled -}}{{ default $default .Values.azure.keyVault.secretProviderClass }}
{{- else if .Values.gcp.enabled -}}{{ default $default .Values.gcp.secretsManager.secretProviderClass }}
{{- end -}}
{{- end -}}
