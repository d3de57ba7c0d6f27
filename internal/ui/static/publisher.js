// Publisher: create APIs from an OpenAPI definition, deploy them to the
// gateway, and move them through their lifecycle.
"use strict";
(() => {
  const { api, el, table, message, run, formData } = Portal;
  const P = "/api/am/publisher/v4";
  const app = document.getElementById("app");

  async function render() {
    const list = await api("GET", P + "/apis?limit=100");
    const rows = [];
    for (const a of list.list || []) {
      rows.push([a.name, a.version, a.context, el("span", { class: "status" }, a.lifeCycleStatus),
        el("span", {}, el("button", { class: "secondary", onclick: run(() => details(a.id)) }, "Open"))]);
    }
    app.replaceChildren(
      el("h2", {}, "APIs"), table(["Name", "Version", "Context", "Status", ""], rows),
      el("h2", {}, "Create an API"), createForm());
  }

  function createForm() {
    const form = el("form", { class: "card" },
      el("label", {}, "Name", el("input", { name: "name", required: true, placeholder: "PizzaShackAPI" })),
      el("label", {}, "Version", el("input", { name: "version", required: true, value: "1.0.0" })),
      el("label", {}, "Context", el("input", { name: "context", required: true, placeholder: "/pizzashack" })),
      el("label", {}, "Backend URL", el("input", { name: "endpoint", required: true, placeholder: "https://backend.example.com/pizzashack" })),
      el("label", {}, "OpenAPI definition URL (optional)", el("input", { name: "url", placeholder: "https://example.com/openapi.yaml" })),
      el("label", {}, "or OpenAPI file", el("input", { name: "file", type: "file", accept: ".yaml,.yml,.json" })),
      el("button", { type: "submit" }, "Create"));
    form.addEventListener("submit", run(async () => {
      const f = formData(form);
      const props = {
        name: f.name, version: f.version, context: f.context, policies: ["Unlimited"],
        endpointConfig: { endpoint_type: "http", production_endpoints: { url: f.endpoint }, sandbox_endpoints: { url: f.endpoint } },
      };
      let created;
      if (f.url || (f.file && f.file.size)) {
        const fd = new FormData();
        if (f.url) fd.append("url", f.url); else fd.append("file", f.file);
        fd.append("additionalProperties", JSON.stringify(props));
        created = await api("POST", P + "/apis/import-openapi", fd);
      } else {
        props.operations = [{ target: "/*", verb: "GET", authType: "Application & Application User", throttlingPolicy: "Unlimited" }];
        created = await api("POST", P + "/apis", props);
      }
      message("Created " + created.name + " " + created.version + ".");
      await details(created.id);
    }));
    return form;
  }

  async function details(id) {
    const a = await api("GET", P + "/apis/" + id);
    const lc = await api("GET", P + "/apis/" + id + "/lifecycle-state");
    const deployments = await api("GET", P + "/apis/" + id + "/deployments");
    const revisions = await api("GET", P + "/apis/" + id + "/revisions");
    const ops = (a.operations || []).map((o) => [o.verb, o.target, (o.scopes || []).join(", "), o.throttlingPolicy || ""]);
    app.replaceChildren(
      el("p", {}, el("button", { class: "secondary", onclick: run(render) }, "← All APIs")),
      el("h2", {}, a.name + " " + a.version),
      el("p", {}, "Context ", el("code", {}, a.context), " · status ", el("span", { class: "status" }, a.lifeCycleStatus), " · provider ", a.provider),
      el("h2", {}, "Lifecycle"),
      el("p", {}, (lc.availableTransitions || []).map((t) =>
        el("button", { onclick: run(async () => {
          await api("POST", P + "/apis/change-lifecycle?" + new URLSearchParams({ action: t.event, apiId: id }));
          message(a.name + ": " + t.event + " done.");
          await details(id);
        }) }, t.event))),
      el("h2", {}, "Revisions and deployments"),
      table(["Revision", "Created", "Deployed to"], (revisions.list || []).map((r) => [r.displayName, r.createdTime ? new Date(r.createdTime).toLocaleString() : "",
        (r.deploymentInfo || []).map((d) => d.name + " (" + d.vhost + ")").join(", ")])),
      el("p", {}, el("button", { onclick: run(async () => {
        const rev = await api("POST", P + "/apis/" + id + "/revisions", { description: "Created in the Publisher" });
        await api("POST", P + "/apis/" + id + "/deploy-revision?revisionId=" + encodeURIComponent(rev.id), [{ name: "Default", vhost: "localhost", displayOnDevportal: true }]);
        message("Deployed " + rev.displayName + " to Default.");
        await details(id);
      }) }, "Create revision and deploy to Default"),
      el("span", {}, " Currently deployed: " + (((deployments && deployments.list) || []).map((d) => d.name).join(", ") || "nowhere"))),
      el("h2", {}, "Operations"), table(["Verb", "Resource", "Scopes", "Policy"], ops),
      el("p", {}, el("button", { class: "danger", onclick: run(async () => {
        if (!confirm("Delete " + a.name + " " + a.version + "?")) return;
        await api("DELETE", P + "/apis/" + id);
        message("Deleted " + a.name + ".");
        await render();
      }) }, "Delete API")));
  }

  Portal.start(render);
})();
