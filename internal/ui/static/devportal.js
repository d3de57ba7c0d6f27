// Developer Portal: browse published APIs, manage applications, subscribe,
// and generate keys and tokens at a key manager.
"use strict";
(() => {
  const { api, el, table, message, run, formData } = Portal;
  const D = "/api/am/devportal/v3";
  const app = document.getElementById("app");

  async function render() {
    const [apis, apps] = await Promise.all([api("GET", D + "/apis?limit=100"), api("GET", D + "/applications?limit=100")]);
    const appForm = el("form", { class: "card" },
      el("label", {}, "Application name", el("input", { name: "name", required: true })),
      el("label", {}, "Description", el("input", { name: "description" })),
      el("button", { type: "submit" }, "Create application"));
    appForm.addEventListener("submit", run(async () => {
      const f = formData(appForm);
      await api("POST", D + "/applications", { name: f.name, description: f.description, throttlingPolicy: "Unlimited", tokenType: "JWT" });
      message("Created application " + f.name + ".");
      await render();
    }));
    app.replaceChildren(
      el("h2", {}, "APIs"),
      table(["Name", "Version", "Context", "Description"], (apis.list || []).map((a) => [a.name, a.version, el("code", {}, a.context), a.description || ""])),
      el("h2", {}, "Applications"),
      table(["Name", "Policy", "Subscriptions", ""], (apps.list || []).map((a) => [a.name, a.throttlingPolicy, String(a.subscriptionCount ?? ""),
        el("button", { class: "secondary", onclick: run(() => application(a.applicationId, apis.list || [])) }, "Open")])),
      el("h2", {}, "Create an application"), appForm);
  }

  async function application(id, apis) {
    const [a, subs, keys, kms] = await Promise.all([
      api("GET", D + "/applications/" + id), api("GET", D + "/subscriptions?applicationId=" + encodeURIComponent(id)),
      api("GET", D + "/applications/" + id + "/oauth-keys"), api("GET", D + "/key-managers"),
    ]);
    const subForm = el("form", { class: "card" },
      el("label", {}, "API", el("select", { name: "apiId" }, apis.map((x) => el("option", { value: x.id }, x.name + " " + x.version)))),
      el("label", {}, "Business plan", el("select", { name: "policy" }, ["Unlimited", "Gold", "Silver", "Bronze"].map((p) => el("option", {}, p)))),
      el("button", { type: "submit" }, "Subscribe"));
    subForm.addEventListener("submit", run(async () => {
      const f = formData(subForm);
      await api("POST", D + "/subscriptions", { applicationId: id, apiId: f.apiId, throttlingPolicy: f.policy });
      message("Subscribed.");
      await application(id, apis);
    }));
    const keyForm = el("form", { class: "card" },
      el("label", {}, "Key manager", el("select", { name: "km" }, (kms.list || []).filter((k) => k.enabled !== false).map((k) => el("option", { value: k.name }, k.displayName || k.name)))),
      el("label", {}, "Key type", el("select", { name: "keyType" }, el("option", {}, "PRODUCTION"), el("option", {}, "SANDBOX"))),
      el("button", { type: "submit" }, "Generate keys"));
    keyForm.addEventListener("submit", run(async () => {
      const f = formData(keyForm);
      const k = await api("POST", D + "/applications/" + id + "/generate-keys", {
        keyType: f.keyType, keyManager: f.km, grantTypesToBeSupported: ["client_credentials", "password", "refresh_token"], callbackUrl: "", scopes: ["default"], validityTime: 3600,
      });
      message("Keys generated. Consumer key " + k.consumerKey + " — copy the secret now: " + k.consumerSecret);
      await application(id, apis);
    }));
    app.replaceChildren(
      el("p", {}, el("button", { class: "secondary", onclick: run(render) }, "← All applications")),
      el("h2", {}, a.name),
      el("h2", {}, "Subscriptions"),
      table(["API", "Plan", "Status", ""], (subs.list || []).map((s) => [
        s.apiInfo ? s.apiInfo.name + " " + s.apiInfo.version : s.apiId, s.throttlingPolicy, s.status,
        el("button", { class: "danger", onclick: run(async () => { await api("DELETE", D + "/subscriptions/" + s.subscriptionId); message("Unsubscribed."); await application(id, apis); }) }, "Unsubscribe")])),
      subForm,
      el("h2", {}, "Keys"),
      table(["Key manager", "Type", "Consumer key", ""], (keys.list || []).map((k) => [k.keyManager, k.keyType, el("code", {}, k.consumerKey),
        el("button", { class: "secondary", onclick: run(async () => {
          const t = await api("POST", D + "/applications/" + id + "/oauth-keys/" + k.keyMappingId + "/generate-token", { consumerSecret: prompt("Consumer secret") || "", validityPeriod: 3600, scopes: [] });
          message("Access token: " + t.accessToken);
        }) }, "Generate token")])),
      keyForm);
  }

  Portal.start(render);
})();
