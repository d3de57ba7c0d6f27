// Identity Server console: users, roles and the API resources whose scopes
// applications may request.
"use strict";
(() => {
  const { api, el, table, message, run, formData } = Portal;
  const app = document.getElementById("app");

  async function render() {
    const [users, roles, resources] = await Promise.all([
      api("GET", "/scim2/Users?count=100"), api("GET", "/scim2/v2/Roles?count=100"), api("GET", "/api/server/v1/api-resources?limit=100"),
    ]);
    const userForm = el("form", { class: "card" },
      // A new user's details: the browser must not fill in the admin's own.
      el("label", {}, "User name", el("input", { name: "userName", required: true, autocomplete: "off" })),
      el("label", {}, "Password", el("input", { name: "password", type: "password", required: true, autocomplete: "new-password" })),
      el("label", {}, "Email", el("input", { name: "email", type: "email", autocomplete: "off" })),
      el("button", { type: "submit" }, "Create user"));
    userForm.addEventListener("submit", run(async () => {
      const f = formData(userForm);
      const u = { schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"], userName: f.userName, password: f.password };
      if (f.email) u.emails = [{ value: f.email, primary: true }];
      await api("POST", "/scim2/Users", u);
      message("Created user " + f.userName + ".");
      await render();
    }));
    app.replaceChildren(
      el("h2", {}, "Users"),
      table(["User name", "Email", "Id"], (users.Resources || []).map((u) => [u.userName, ((u.emails || [])[0] || {}).value || "", el("code", {}, u.id)])),
      userForm,
      el("h2", {}, "Roles"),
      table(["Role", "Permissions"], (roles.Resources || []).map((r) => [r.displayName, (r.permissions || []).map((p) => p.value || p).join(", ")])),
      el("h2", {}, "API resources"),
      table(["Name", "Identifier"], (resources.apiResources || []).map((r) => [r.name, el("code", {}, r.identifier)])));
  }

  Portal.start(render);
})();
