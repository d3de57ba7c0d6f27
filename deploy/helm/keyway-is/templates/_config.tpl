{{- define "keyway-is.validate" -}}
{{- $t := .Values.deploymentToml -}}
{{- $d := .Values.deployment -}}
{{- $creds := include "keyway-is.credentials" . | fromYaml -}}
{{- if eq (index $creds "admin").mode "none" -}}
{{- fail "set deploymentToml.superAdmin.password or deploymentToml.existingSecret.{secretName,adminPasswordKey}" -}}
{{- end -}}
{{- include "keyway.checkExtraConfigs" (dict "text" $t.extraConfigs "path" "deploymentToml.extraConfigs") -}}
{{- $extra := default "" $t.extraConfigs -}}
{{- if and $t.oauth.authorizeAllScopes (regexMatch "(?m)^\\s*\\[oauth\\]\\s*(#.*)?$" $extra) -}}
{{- fail "deploymentToml.oauth.authorizeAllScopes and an [oauth] table in deploymentToml.extraConfigs: use one of them (TOML forbids a table twice)" -}}
{{- end -}}
{{- if and $t.apimNotification.enabled (contains "ApimOauthEventInterceptor" $extra) -}}
{{- fail "deploymentToml.apimNotification.enabled and an ApimOauthEventInterceptor [[event_listener]] in extraConfigs: use one of them (the API Manager would be notified twice)" -}}
{{- end -}}
{{- $pods := int $d.replicas -}}
{{- if $d.hpa.enabled -}}{{- $pods = max $pods (int $d.hpa.minReplicas) (int $d.hpa.maxReplicas) | int -}}{{- end -}}
{{- if gt $pods 1 -}}
{{- if not $d.externalJKS.enabled -}}
{{- fail "more than one Identity Server pod needs shared keys: set deployment.externalJKS.enabled and secretName" -}}
{{- end -}}
{{- range $db := list "identity" "shared" "user" -}}
{{- $v := index $t.database $db -}}
{{- if eq (include "keyway.dbType" (dict "type" $v.type "url" $v.url)) "h2" -}}
{{- fail (printf "more than one Identity Server pod needs an external database: set deploymentToml.database.%s.url" $db) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "keyway-is.deploymentToml" -}}
{{- include "keyway-is.validate" . -}}
{{- $t := .Values.deploymentToml -}}
{{- $ports := include "keyway-is.ports" . | fromYaml -}}
{{- $creds := include "keyway-is.credentials" . | fromYaml -}}
# deployment.toml rendered by the keyway-is chart {{ .Chart.Version }}.
# No password is written here: each is $env{} from a Secret.
[server]
hostname = {{ include "keyway.tomlString" (include "keyway-is.hostname" .) }}
offset = {{ $ports.offset }}
data_dir = "/var/lib/keyway"
bind_address = "0.0.0.0"

[super_admin]
username = {{ include "keyway.tomlString" (required "deploymentToml.superAdmin.username is required" $t.superAdmin.username) }}
password = {{ include "keyway.tomlString" (index $creds "admin").ref }}
create_admin_account = {{ ternary "false" "true" (eq (toString $t.superAdmin.createAdminAccount) "false") }}
{{- range $db := list "identity" "shared" "user" }}
{{- $v := index $t.database $db }}
{{- $section := ternary "user" (printf "%s_db" $db) (eq $db "user") }}

[database.{{ $section }}]
type = {{ include "keyway.tomlString" (include "keyway.dbType" (dict "type" $v.type "url" $v.url)) }}
{{- if $v.url }}
url = {{ include "keyway.tomlString" $v.url }}
{{- end }}
{{- if $v.username }}
username = {{ include "keyway.tomlString" $v.username }}
{{- end }}
{{- with (index $creds (printf "%s-db" $db)) }}{{ if ne .mode "none" }}
password = {{ include "keyway.tomlString" .ref }}
{{- end }}{{ end }}
{{- if $v.driver }}
driver = {{ include "keyway.tomlString" $v.driver }}
{{- end }}
{{- with $v.poolOptions }}

[database.{{ $section }}.pool_options]
{{- include "keyway.poolOptions" (dict "pool" . "path" (printf "deploymentToml.database.%s" $db)) }}
{{- end }}
{{- end }}
{{- if .Values.deployment.externalJKS.enabled }}
{{- range $name := list "primary" "tls" "internal" }}
{{- $ks := index $t.keystore $name }}

[keystore.{{ $name }}]
file_name = {{ include "keyway.tomlString" (printf "/etc/keyway/security/%s" (required (printf "deploymentToml.keystore.%s.fileName is required" $name) $ks.fileName)) }}
type = {{ include "keyway.tomlString" (include "keyway.keystoreType" (dict "name" $ks.fileName "type" $ks.type)) }}
alias = {{ include "keyway.tomlString" (default "wso2carbon" $ks.alias) }}
{{- with (index $creds (printf "%s-keystore" $name)) }}{{ if ne .mode "none" }}
password = {{ include "keyway.tomlString" .ref }}
{{- end }}{{ end }}
{{- with (index $creds (printf "%s-key" $name)) }}{{ if ne .mode "none" }}
key_password = {{ include "keyway.tomlString" .ref }}
{{- end }}{{ end }}
{{- end }}
{{- end }}
{{- $ts := $t.truststore }}
{{- if or (and .Values.deployment.externalJKS.enabled $ts.fileName) $ts.useSystemRoots }}

[truststore]
{{- if and .Values.deployment.externalJKS.enabled $ts.fileName }}
file_name = {{ include "keyway.tomlString" (printf "/etc/keyway/security/%s" $ts.fileName) }}
type = {{ include "keyway.tomlString" (include "keyway.keystoreType" (dict "name" $ts.fileName "type" $ts.type)) }}
{{- with (index $creds "truststore") }}{{ if ne .mode "none" }}
password = {{ include "keyway.tomlString" .ref }}
{{- end }}{{ end }}
{{- end }}
use_system_roots = {{ ternary "true" "false" (eq (toString $ts.useSystemRoots) "true") }}
{{- end }}
{{- if $t.oauth.authorizeAllScopes }}

[oauth]
authorize_all_scopes = true
{{- end }}
{{- if $t.apimNotification.enabled }}

# Token revocations to the API Manager, as the seed's [[event_listener]] does.
[[event_listener]]
id = "token_revocation"
type = "org.wso2.carbon.identity.core.handler.AbstractIdentityHandler"
name = "org.wso2.is.notification.ApimOauthEventInterceptor"
order = 1
[event_listener.properties]
notification_endpoint = {{ include "keyway.tomlString" (required "deploymentToml.apimNotification.endpoint is required" $t.apimNotification.endpoint) }}
username = "${admin.username}"
password = "${admin.password}"
'header.X-WSO2-KEY-MANAGER' = {{ include "keyway.tomlString" (default "WSO2-IS" $t.apimNotification.header) }}
{{- end }}

[log]
level = {{ include "keyway.tomlString" (default "info" $t.log.level) }}
format = {{ include "keyway.tomlString" (default "json" $t.log.format) }}
access_log = {{ ternary "false" "true" (eq (toString $t.log.accessLog) "false") }}
{{- with $t.extraConfigs }}

# extraConfigs
{{ . }}
{{- end }}
{{- end -}}
