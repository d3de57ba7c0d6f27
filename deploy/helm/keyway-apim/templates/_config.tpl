{{/* Fail early on combinations that cannot work, with the value to change. */}}
{{- define "keyway-apim.validate" -}}
{{- $c := .Values.wso2.apim.configurations -}}
{{- $d := .Values.wso2.deployment -}}
{{- $ks := $c.security.keystores -}}
{{- range $name := list "primary" "tls" "internal" -}}
{{- if and (index $ks $name).enabled (not $c.security.jksSecretName) -}}
{{- fail (printf "wso2.apim.configurations.security.keystores.%s.enabled needs security.jksSecretName (the Secret holding %s)" $name (index $ks $name).name) -}}
{{- end -}}
{{- end -}}
{{- $pods := int $d.replicas -}}
{{- if $d.hpa.enabled -}}{{- $pods = max $pods (int $d.hpa.minReplicas) (int $d.hpa.maxReplicas) | int -}}{{- end -}}
{{- if gt $pods 1 -}}
{{- if not $c.security.jksSecretName -}}
{{- fail "more than one API Manager pod needs shared keys: set wso2.apim.configurations.security.jksSecretName with primary, tls and internal keystores enabled" -}}
{{- end -}}
{{- range $db := list "apim_db" "shared_db" -}}
{{- if eq (include "keyway.dbType" (dict "type" $c.databases.type "url" (index $c.databases $db).url)) "h2" -}}
{{- fail (printf "more than one API Manager pod needs an external database: set wso2.apim.configurations.databases.%s.url" $db) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if .Values.wso2.apim.secureVaultEnabled -}}
{{- if not (and $c.security.jksSecretName $ks.internal.enabled) -}}
{{- fail "wso2.apim.secureVaultEnabled needs the internal keystore the values were encrypted with: set security.jksSecretName and security.keystores.internal.enabled" -}}
{{- end -}}
{{- $providers := 0 -}}
{{- range $p := list .Values.aws.enabled .Values.azure.enabled .Values.gcp.enabled -}}{{- if $p -}}{{- $providers = add1 $providers -}}{{- end -}}{{- end -}}
{{- $creds := include "keyway-apim.credentials" . | fromYaml -}}
{{- if and (ne $providers 1) (eq (index $creds "internal-keystore").mode "none") -}}
{{- fail "wso2.apim.secureVaultEnabled needs the internal keystore password: enable exactly one of aws, azure, gcp (Secrets Store CSI) or give security.jksExistingSecret.internalKeystorePasswordKey" -}}
{{- end -}}
{{- end -}}
{{- if gt (int (include "keyway-apim.providerCount" .)) 1 -}}
{{- fail "enable only one of aws.enabled, azure.enabled, gcp.enabled" -}}
{{- end -}}
{{- $creds := include "keyway-apim.credentials" . | fromYaml -}}
{{- if eq (index $creds "admin").mode "none" -}}
{{- fail "set wso2.apim.configurations.adminPassword or existingSecret.{secretName,adminPasswordKey}" -}}
{{- end -}}
{{- include "keyway.checkExtraConfigs" (dict "text" $c.extraConfigs "path" "wso2.apim.configurations.extraConfigs") -}}
{{- end -}}

{{- define "keyway-apim.providerCount" -}}
{{- $n := 0 -}}
{{- range $p := list .Values.aws.enabled .Values.azure.enabled .Values.gcp.enabled -}}{{- if $p -}}{{- $n = add1 $n -}}{{- end -}}{{- end -}}
{{- $n -}}
{{- end -}}

{{/* Path of the CSI-mounted internal keystore password file, "" without CSI. */}}
{{- define "keyway-apim.csiPasswordFile" -}}
{{- if .Values.wso2.apim.secureVaultEnabled -}}
{{- if .Values.aws.enabled -}}
{{- $id := .Values.aws.secretsManager.secretIdentifiers.internalKeystorePassword -}}
{{- printf "/mnt/secrets-store/%s" (default (required "aws.secretsManager.secretIdentifiers.internalKeystorePassword.secretName is required" $id.secretName) $id.secretKey) -}}
{{- else if .Values.azure.enabled -}}
{{- printf "/mnt/secrets-store/%s" (required "azure.keyVault.secretIdentifiers.internalKeystorePassword is required" .Values.azure.keyVault.secretIdentifiers.internalKeystorePassword) -}}
{{- else if .Values.gcp.enabled -}}
{{- printf "/mnt/secrets-store/%s" (required "gcp.secretsManager.secret.secretName is required" .Values.gcp.secretsManager.secret.secretName) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "keyway-apim.keystoreBlock" -}}
{{- $ks := .ks -}}
{{- $creds := .creds }}
[keystore.{{ .name }}]
file_name = {{ include "keyway.tomlString" (printf "/etc/keyway/security/%s" $ks.name) }}
type = {{ include "keyway.tomlString" (include "keyway.keystoreType" $ks) }}
alias = {{ include "keyway.tomlString" (default "wso2carbon" $ks.alias) }}
{{- $pw := index $creds (printf "%s-keystore" .name) }}
{{- if ne $pw.mode "none" }}
password = {{ include "keyway.tomlString" $pw.ref }}
{{- else if and (eq .name "internal") .csi }}
# The password file the Secrets Store CSI driver mounts.
password_file = {{ include "keyway.tomlString" .csi }}
{{- end }}
{{- with (index $creds (printf "%s-key" .name)) }}{{ if ne .mode "none" }}
key_password = {{ include "keyway.tomlString" .ref }}
{{- end }}{{ end }}
{{- end -}}

{{/* deployment.toml: the only place that knows Keyway's configuration keys. */}}
{{- define "keyway-apim.deploymentToml" -}}
{{- include "keyway-apim.validate" . -}}
{{- $c := .Values.wso2.apim.configurations -}}
{{- $ports := include "keyway-apim.ports" . | fromYaml -}}
{{- $ings := include "keyway-apim.ingresses" . | fromYaml -}}
{{- $creds := include "keyway-apim.credentials" . | fromYaml -}}
{{- $host := include "keyway-apim.hostname" . -}}
{{- $svc := include "keyway-apim.fullname" . -}}
# deployment.toml rendered by the keyway-apim chart {{ .Chart.Version }}.
# No password is written here: each is $env{} (from a Secret) or $secret{} (secure vault).
[server]
hostname = {{ include "keyway.tomlString" $host }}
offset = {{ $ports.offset }}
data_dir = "/var/lib/keyway"
bind_address = "0.0.0.0"
server_role = "default"

[super_admin]
username = {{ include "keyway.tomlString" (required "wso2.apim.configurations.adminUsername is required" $c.adminUsername) }}
password = {{ include "keyway.tomlString" (index $creds "admin").ref }}
create_admin_account = true
{{- range $db := list "apim_db" "shared_db" }}
{{- $v := index $c.databases $db }}
{{- $type := include "keyway.dbType" (dict "type" $c.databases.type "url" $v.url) }}

[database.{{ $db }}]
type = {{ include "keyway.tomlString" $type }}
{{- if $v.url }}
url = {{ include "keyway.tomlString" $v.url }}
{{- end }}
{{- if $v.username }}
username = {{ include "keyway.tomlString" $v.username }}
{{- end }}
{{- with (index $creds (printf "%s" ($db | replace "_db" "-db" | replace "_" "-"))) }}{{ if ne .mode "none" }}
password = {{ include "keyway.tomlString" .ref }}
{{- end }}{{ end }}
{{- if $c.databases.jdbc.driver }}
driver = {{ include "keyway.tomlString" $c.databases.jdbc.driver }}
{{- end }}
{{- $pool := default dict $v.poolParameters }}
{{- if $pool }}

[database.{{ $db }}.pool_options]
{{- include "keyway.poolOptions" (dict "pool" $pool "path" (printf "wso2.apim.configurations.databases.%s" $db)) }}
{{- end }}
{{- end }}
{{- range $name := list "primary" "tls" "internal" }}
{{- $ks := index $c.security.keystores $name }}
{{- if $ks.enabled }}
{{ include "keyway-apim.keystoreBlock" (dict "name" $name "ks" $ks "creds" $creds "csi" (include "keyway-apim.csiPasswordFile" $)) }}
{{- end }}
{{- end }}
{{- $ts := $c.security.truststore }}
{{- if or (and $c.security.jksSecretName $ts.name) $ts.useSystemRoots }}

[truststore]
{{- if and $c.security.jksSecretName $ts.name }}
file_name = {{ include "keyway.tomlString" (printf "/etc/keyway/security/%s" $ts.name) }}
type = {{ include "keyway.tomlString" (include "keyway.keystoreType" $ts) }}
{{- with (index $creds "truststore") }}{{ if ne .mode "none" }}
password = {{ include "keyway.tomlString" .ref }}
{{- end }}{{ end }}
{{- end }}
use_system_roots = {{ ternary "true" "false" (eq (toString $ts.useSystemRoots) "true") }}
{{- end }}
{{- $csi := include "keyway-apim.csiPasswordFile" . }}
{{- if .Values.wso2.apim.secureVaultEnabled }}

[secure_vault]
{{- if $csi }}
password_file = {{ include "keyway.tomlString" $csi }}
{{- end }}
{{- end }}
{{- range $env := $c.gateway.environments }}

[[apim.gateway.environment]]
name = {{ include "keyway.tomlString" (required "every gateway environment needs a name" $env.name) }}
type = {{ include "keyway.tomlString" (default "hybrid" $env.type) }}
gateway_type = {{ include "keyway.tomlString" (default "Regular" $env.gatewayType) }}
provider = {{ include "keyway.tomlString" (default "wso2" $env.provider) }}
display_in_api_console = {{ ternary "false" "true" (eq (toString $env.displayInApiConsole) "false") }}
{{- if $env.displayName }}
display_name = {{ include "keyway.tomlString" $env.displayName }}
{{- end }}
{{- if $env.description }}
description = {{ include "keyway.tomlString" $env.description }}
{{- end }}
show_as_token_endpoint_url = {{ ternary "false" "true" (eq (toString $env.showAsTokenEndpointUrl) "false") }}
service_url = {{ include "keyway.tomlString" (printf "https://%s:%v/services/" (default $svc $env.serviceName) (default $ports.management $env.servicePort)) }}
username = "${admin.username}"
password = "${admin.password}"
{{- $http := default $ings.gateway.hostname $env.httpHostname }}
{{- if $http }}
http_endpoint = {{ include "keyway.tomlString" (printf "http://%s" $http) }}
https_endpoint = {{ include "keyway.tomlString" (printf "https://%s" $http) }}
{{- end }}
{{- $ws := default $ings.websocket.hostname $env.wsHostname }}
{{- if $ws }}
ws_endpoint = {{ include "keyway.tomlString" (printf "ws://%s" $ws) }}
wss_endpoint = {{ include "keyway.tomlString" (printf "wss://%s" $ws) }}
{{- end }}
{{- $websub := default $ings.websub.hostname $env.websubHostname }}
{{- if $websub }}
websub_event_receiver_http_endpoint = {{ include "keyway.tomlString" (printf "http://%s" $websub) }}
websub_event_receiver_https_endpoint = {{ include "keyway.tomlString" (printf "https://%s" $websub) }}
{{- end }}
{{- end }}

[apim.devportal]
url = {{ include "keyway.tomlString" (printf "https://%s/devportal" $host) }}

[log]
level = {{ include "keyway.tomlString" (default "info" $c.log.level) }}
format = {{ include "keyway.tomlString" (default "json" $c.log.format) }}
access_log = {{ ternary "false" "true" (eq (toString $c.log.accessLog) "false") }}
{{- if .Values.wso2.apim.secureVaultEnabled }}

# Cipher text from `keyway cipher encrypt`, decrypted with the internal keystore.
[secrets]
{{- range $id, $cred := $creds }}
{{- if eq $cred.mode "vault" }}
{{ $cred.alias }} = {{ include "keyway.tomlString" $cred.cipher }}
{{- end }}
{{- end }}
{{- end }}
{{- with $c.extraConfigs }}

# extraConfigs
{{ . }}
{{- end }}
{{- end -}}
