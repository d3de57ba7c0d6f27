// Admin portal: key managers (including the WSO2 Identity Server 7 form of
// Pattern 6), throttling policies and gateway environments.
"use strict";
(() => {
  const { api, el, table, message, run, formData } = Portal;
  const A = "/api/am/admin/v4";
  const app = document.getElementById("app");

  async function render() {
    const [kms, subs, apps, envs] = await Promise.all([
      api("GET", A + "/key-managers"), api("GET", A + "/throttling/policies/subscription"),
      api("GET", A + "/throttling/policies/application"), api("GET", A + "/environments"),
    ]);
    app.replaceChildren(
      el("h2", {}, "Key managers"),
      table(["Name", "Type", "Enabled", ""], (kms.list || []).map((k) => [k.displayName || k.name, k.type, k.enabled ? "yes" : "no",
        k.type === "default" ? "" : el("button", { class: "danger", onclick: run(async () => {
          if (!confirm("Delete key manager " + k.name + "?")) return;
          await api("DELETE", A + "/key-managers/" + k.id); message("Deleted " + k.name + "."); await render();
        }) }, "Delete")])),
      el("h2", {}, "Add a WSO2 Identity Server 7 key manager"), kmForm(),
      el("h2", {}, "Subscription policies"),
      table(["Name", "Quota", "Unit"], (subs.list || []).map((p) => [p.policyName, quota(p.defaultLimit), unit(p.defaultLimit)])),
      el("h2", {}, "Application policies"),
      table(["Name", "Quota", "Unit"], (apps.list || []).map((p) => [p.policyName, quota(p.defaultLimit), unit(p.defaultLimit)])),
      el("h2", {}, "Gateway environments"),
      table(["Name", "Type", "Virtual hosts"], (envs.list || []).map((e) => [e.displayName || e.name, e.type || "", (e.vhosts || []).map((v) => v.host).join(", ")])));
  }

  function quota(l) {
    if (!l) return "";
    const r = l.requestCount || l.bandwidth || {};
    return String(r.requestCount ?? r.dataAmount ?? "");
  }
  function unit(l) {
    if (!l) return "";
    const r = l.requestCount || l.bandwidth || {};
    return (r.unitTime ?? "") + " " + (r.timeUnit ?? "");
  }

  function kmForm() {
    // autocomplete "off"/"new-password": these are the key manager's settings,
    // so the browser must not fill in the signed-in user's saved credentials.
    const f = (name, label, placeholder, type = "text") => el("label", {}, label,
      el("input", { name, placeholder, type, autocomplete: type === "password" ? "new-password" : "off" }));
    const form = el("form", { class: "card" },
      f("name", "Name", "WSO2IS7"), f("displayName", "Display name", "WSO2 Identity Server 7"),
      f("base", "Identity Server URL (fills every endpoint)", "https://wso2is.km:9443"),
      el("button", { type: "button", class: "secondary", onclick: run(async () => {
        const base = form.base.value.replace(/\/$/, "");
        const fd = new FormData();
        fd.append("url", base + "/oauth2/token/.well-known/openid-configuration");
        fd.append("type", "WSO2-IS-7");
        const d = await api("POST", A + "/key-managers/discover", fd);
        message(d && d.valid ? "Discovered issuer " + d.value.issuer + "." : "Discovery found nothing at that URL.", d && d.valid ? "ok" : "error");
      }) }, "Check well-known endpoint"),
      f("username", "Username (connector)", "admin"), f("password", "Password (connector)", "", "password"),
      el("label", {}, el("input", { type: "checkbox", name: "roles" }), " Create roles in WSO2 Identity Server 7"),
      el("button", { type: "submit" }, "Add key manager"));
    form.addEventListener("submit", run(async () => {
      const v = formData(form);
      const b = v.base.replace(/\/$/, "");
      await api("POST", A + "/key-managers", {
        name: v.name, displayName: v.displayName, type: "WSO2-IS-7",
        wellKnownEndpoint: b + "/oauth2/token/.well-known/openid-configuration", issuer: b + "/oauth2/token",
        clientRegistrationEndpoint: b + "/api/identity/oauth2/dcr/v1.1/register", introspectionEndpoint: b + "/oauth2/introspect",
        tokenEndpoint: b + "/oauth2/token", displayTokenEndpoint: b + "/oauth2/token", revokeEndpoint: b + "/oauth2/revoke",
        displayRevokeEndpoint: b + "/oauth2/revoke", userInfoEndpoint: b + "/scim2/Me", authorizeEndpoint: b + "/oauth2/authorize",
        scopeManagementEndpoint: b + "/api/identity/oauth2/v1.0/scopes", certificates: { type: "JWKS", value: b + "/oauth2/jwks" },
        enabled: true, enableTokenGeneration: true, enableOAuthAppCreation: true, enableMapOAuthConsumerApps: true, enableSelfValidationJWT: true,
        consumerKeyClaim: "azp", scopesClaim: "scope", tokenType: "DIRECT",
        additionalProperties: { Username: v.username, Password: v.password, api_resource_management_endpoint: b + "/api/server/v1/api-resources",
          is7_roles_endpoint: b + "/scim2/v2/Roles", enable_roles_creation: v.roles === "on" },
      });
      message("Added key manager " + v.name + ".");
      await render();
    }));
    return form;
  }

  Portal.start(render);
})();
