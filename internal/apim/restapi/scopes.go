package restapi

import (
	"slices"
	"sort"
	"strings"
)

// Role names of WSO2 API Manager's default roles.
const (
	RoleAdmin          = "admin"
	RoleCreator        = "Internal/creator"
	RolePublisher      = "Internal/publisher"
	RoleSubscriber     = "Internal/subscriber"
	RoleDevOps         = "Internal/devops"
	RoleObserver       = "Internal/observer"
	RoleAnalytics      = "Internal/analytics"
	RoleIntegrationDev = "Internal/integration_dev"
)

// ScopeRoles maps every apim:* scope of the publisher, devportal and admin
// contracts to the roles that receive it, as WSO2's default tenant-conf.json
// RESTAPIScopes does (carbon-apimgt, APIM 4.5 line). The scopes that
// tenant-conf.json does not list (organization, subscription approval and
// tenant scopes) are given to admin, and to the publisher/creator roles where
// the operation is a publisher-portal one. admin holds every scope (see
// ScopesForRoles). Treat the map as read-only.
var ScopeRoles = map[string][]string{
	"apim:api_publish":                     {RoleAdmin, RolePublisher},
	"apim:api_create":                      {RoleAdmin, RoleCreator},
	"apim:api_generate_key":                {RoleAdmin, RoleCreator, RolePublisher},
	"apim:api_view":                        {RoleAdmin, RolePublisher, RoleCreator, RoleAnalytics, RoleObserver},
	"apim:api_delete":                      {RoleAdmin, RoleCreator},
	"apim:api_manage":                      {RoleAdmin},
	"apim:subscribe":                       {RoleAdmin, RoleSubscriber, RoleDevOps},
	"apim:tier_view":                       {RoleAdmin, RolePublisher, RoleCreator},
	"apim:tier_manage":                     {RoleAdmin},
	"apim:bl_view":                         {RoleAdmin},
	"apim:bl_manage":                       {RoleAdmin},
	"apim:subscription_view":               {RoleAdmin, RoleCreator, RolePublisher},
	"apim:subscription_block":              {RoleAdmin, RolePublisher},
	"apim:subscription_manage":             {RoleAdmin, RolePublisher},
	"apim:mediation_policy_view":           {RoleAdmin, RoleCreator},
	"apim:mediation_policy_create":         {RoleAdmin, RoleCreator},
	"apim:api_mediation_policy_manage":     {RoleAdmin, RoleCreator},
	"apim:api_workflow_view":               {RoleAdmin},
	"apim:api_workflow_approve":            {RoleAdmin},
	"apim:admin":                           {RoleAdmin},
	"apim:app_owner_change":                {RoleAdmin},
	"apim:app_token_type_upgrade":          {RoleAdmin},
	"apim:app_import_export":               {RoleAdmin, RoleDevOps},
	"apim:api_import_export":               {RoleAdmin, RoleDevOps},
	"apim:api_product_import_export":       {RoleAdmin, RoleDevOps},
	"apim:label_manage":                    {RoleAdmin},
	"apim:label_read":                      {RoleAdmin},
	"apim:app_update":                      {RoleAdmin, RoleSubscriber},
	"apim:app_manage":                      {RoleAdmin, RoleSubscriber, RoleDevOps},
	"apim:sub_manage":                      {RoleAdmin, RoleSubscriber, RoleDevOps},
	"apim:monetization_usage_publish":      {RoleAdmin, RolePublisher},
	"apim:document_create":                 {RoleAdmin, RoleCreator, RolePublisher},
	"apim:document_manage":                 {RoleAdmin, RoleCreator, RolePublisher},
	"apim:ep_certificates_view":            {RoleAdmin, RoleCreator},
	"apim:ep_certificates_add":             {RoleAdmin, RoleCreator},
	"apim:ep_certificates_update":          {RoleAdmin, RoleCreator},
	"apim:ep_certificates_manage":          {RoleAdmin, RoleCreator},
	"apim:client_certificates_view":        {RoleAdmin, RoleCreator},
	"apim:client_certificates_add":         {RoleAdmin, RoleCreator},
	"apim:client_certificates_update":      {RoleAdmin, RoleCreator},
	"apim:client_certificates_manage":      {RoleAdmin, RoleCreator},
	"apim:threat_protection_policy_create": {RoleAdmin, RoleCreator},
	"apim:threat_protection_policy_manage": {RoleAdmin, RoleCreator},
	"apim:mediation_policy_manage":         {RoleAdmin, RoleCreator},
	"apim:publisher_settings":              {RoleAdmin, RoleCreator, RolePublisher, RoleObserver},
	"apim:store_settings":                  {RoleAdmin, RoleSubscriber},
	"apim:admin_settings":                  {RoleAdmin},
	"apim:api_key":                         {RoleAdmin, RoleSubscriber},
	"apim:pub_alert_manage":                {RoleAdmin, RoleCreator},
	"apim:sub_alert_manage":                {RoleAdmin, RoleSubscriber},
	"apim:tenantInfo":                      {RoleAdmin},
	"apim:tenant_theme_manage":             {RoleAdmin},
	"apim:admin_operations":                {RoleAdmin},
	"apim:keymanagers_manage":              {RoleAdmin},
	"apim:api_category":                    {RoleAdmin},
	"apim:shared_scope_manage":             {RoleAdmin},
	"apim:admin_alert_manage":              {RoleAdmin},
	"apim:bot_data":                        {RoleAdmin},
	"apim:scope_manage":                    {RoleAdmin},
	"apim:role_manage":                     {RoleAdmin},
	"apim:environment_manage":              {RoleAdmin},
	"apim:environment_read":                {RoleAdmin},
	"apim:comment_view":                    {RoleAdmin, RoleCreator, RolePublisher},
	"apim:comment_write":                   {RoleAdmin, RoleCreator, RolePublisher},
	"apim:comment_manage":                  {RoleAdmin, RoleCreator, RolePublisher},
	"apim:throttling_policy_manage":        {RoleAdmin, RolePublisher, RoleCreator, RoleAnalytics},
	"apim:admin_application_view":          {RoleAdmin},
	"apim:api_list_view":                   {RoleAdmin, RoleIntegrationDev},
	"apim:api_definition_view":             {RoleAdmin, RoleIntegrationDev},
	"apim:common_operation_policy_view":    {RoleAdmin, RoleCreator, RolePublisher, RoleObserver},
	"apim:common_operation_policy_manage":  {RoleAdmin, RoleCreator},
	"apim:policies_import_export":          {RoleAdmin, RoleDevOps},
	"apim:admin_tier_manage":               {RoleAdmin},
	"apim:admin_tier_view":                 {RoleAdmin},
	"apim:api_provider_change":             {RoleAdmin},
	"apim:gateway_policy_manage":           {RoleAdmin},
	"apim:gateway_policy_view":             {RoleAdmin, RoleCreator, RolePublisher, RoleObserver},
	"apim:llm_provider_manage":             {RoleAdmin},
	"apim:llm_provider_read":               {RoleAdmin, RolePublisher, RoleCreator},
	"apim:gov_rule_manage":                 {RoleAdmin},
	"apim:gov_rule_read":                   {RoleAdmin, RolePublisher, RoleCreator, RoleObserver},
	"apim:gov_result_read":                 {RoleAdmin, RolePublisher, RoleCreator, RoleObserver},
	"apim:gov_policy_manage":               {RoleAdmin},
	"apim:gov_policy_read":                 {RoleAdmin, RolePublisher, RoleCreator, RoleObserver},
	"apim:mcp_server_create":               {RoleAdmin, RoleCreator},
	"apim:mcp_server_manage":               {RoleAdmin},
	"apim:mcp_server_view":                 {RoleAdmin, RolePublisher, RoleCreator, RoleAnalytics, RoleObserver},
	"apim:mcp_server_list_view":            {RoleAdmin, RoleIntegrationDev},
	"apim:mcp_server_import_export":        {RoleAdmin, RoleDevOps},
	"apim:mcp_server_publish":              {RoleAdmin, RolePublisher},
	"apim:mcp_server_delete":               {RoleAdmin, RoleCreator},
	"apim:mcp_server_generate_key":         {RoleAdmin, RoleCreator, RolePublisher},
	// Not in tenant-conf.json's defaults: Keyway's choice.
	"apim:subscription_approval_view":   {RoleAdmin, RolePublisher, RoleCreator},
	"apim:subscription_approval_manage": {RoleAdmin, RolePublisher},
	"apim:publisher_organization_read":  {RoleAdmin, RolePublisher, RoleCreator},
	"apim:organization_read":            {RoleAdmin},
	"apim:organization_manage":          {RoleAdmin},
	"apim:tenant":                       {RoleAdmin},
}

// ScopesForRoles returns the sorted apim:* scopes the roles grant. Role
// names compare case-insensitively; "admin" (and WSO2's "Internal/admin"
// alias) receives every scope of ScopeRoles.
func ScopesForRoles(roles []string) []string {
	set := map[string]bool{}
	for _, role := range roles {
		if strings.EqualFold(role, RoleAdmin) || strings.EqualFold(role, "Internal/admin") {
			for s := range ScopeRoles {
				set[s] = true
			}
			continue
		}
		for s, rs := range ScopeRoles {
			if slices.ContainsFunc(rs, func(r string) bool { return strings.EqualFold(r, role) }) {
				set[s] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}
