// Shared console code: sign-in with the authorization code flow and PKCE,
// token storage for the tab, REST calls, and small DOM helpers.
"use strict";

const Portal = (() => {
  const body = document.body;
  const clientId = body.dataset.clientId;
  const scopes = body.dataset.scopes;
  const portalPath = body.dataset.portal;
  const redirectURI = location.origin + portalPath + "/";
  const storeKey = "keyway-token" + portalPath;

  function b64url(bytes) {
    let s = "";
    for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function random() {
    const a = new Uint8Array(32);
    crypto.getRandomValues(a);
    return b64url(a);
  }

  async function signIn() {
    const verifier = random();
    const state = random();
    sessionStorage.setItem("pkce" + portalPath, JSON.stringify({ verifier, state }));
    const challenge = b64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
    const q = new URLSearchParams({
      response_type: "code", client_id: clientId, redirect_uri: redirectURI, scope: scopes,
      state, code_challenge: challenge, code_challenge_method: "S256",
    });
    location.assign("/oauth2/authorize?" + q.toString());
  }

  async function completeSignIn(params) {
    const saved = JSON.parse(sessionStorage.getItem("pkce" + portalPath) || "{}");
    sessionStorage.removeItem("pkce" + portalPath);
    history.replaceState(null, "", portalPath + "/");
    if (params.get("error")) throw new Error(params.get("error_description") || params.get("error"));
    if (!saved.state || saved.state !== params.get("state")) throw new Error("sign-in state did not match; please sign in again");
    const form = new URLSearchParams({
      grant_type: "authorization_code", code: params.get("code"), redirect_uri: redirectURI,
      client_id: clientId, code_verifier: saved.verifier,
    });
    const resp = await fetch("/oauth2/token", { method: "POST", body: form });
    const tok = await resp.json();
    if (!resp.ok) throw new Error(tok.error_description || tok.error || "token request failed");
    tok.expires_at = Date.now() + (tok.expires_in || 3600) * 1000;
    sessionStorage.setItem(storeKey, JSON.stringify(tok));
  }

  function token() {
    const tok = JSON.parse(sessionStorage.getItem(storeKey) || "null");
    if (!tok || tok.expires_at < Date.now() + 5000) return null;
    return tok;
  }

  function claims(tok) {
    const decode = (jwt) => {
      try { return JSON.parse(atob(jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))); } catch (e) { return {}; }
    };
    return Object.assign({}, tok.access_token ? decode(tok.access_token) : {}, tok.id_token ? decode(tok.id_token) : {});
  }

  function signOut() {
    const tok = token();
    // Signing out ends the server's SSO session, so it signs this tab out of
    // every console of the server, not only this one: drop all their tokens.
    for (const k of Object.keys(sessionStorage)) {
      if (k.startsWith("keyway-token")) sessionStorage.removeItem(k);
    }
    const q = new URLSearchParams({ client_id: clientId, post_logout_redirect_uri: redirectURI });
    if (tok && tok.id_token) q.set("id_token_hint", tok.id_token);
    location.assign("/oauth2/logout?" + q.toString());
  }

  async function api(method, path, data, opts = {}) {
    const tok = token();
    if (!tok) { show("signin"); throw new Error("please sign in"); }
    const headers = { Authorization: "Bearer " + tok.access_token, Accept: "application/json" };
    let bodyData = data;
    if (data !== undefined && !(data instanceof FormData)) {
      headers["Content-Type"] = "application/json";
      bodyData = JSON.stringify(data);
    }
    const resp = await fetch(path, { method, headers, body: bodyData });
    const text = await resp.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch (e) { json = null; }
    if (!resp.ok) {
      const msg = json && (json.description || json.message || json.detail || json.error_description || json.error);
      throw new Error(msg || (resp.status + " " + resp.statusText));
    }
    return opts.raw ? text : json;
  }

  function el(tag, attrs = {}, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat()) e.append(c instanceof Node ? c : document.createTextNode(c ?? ""));
    return e;
  }

  function table(headers, rows) {
    return el("table", {}, el("thead", {}, el("tr", {}, headers.map((h) => el("th", {}, h)))),
      el("tbody", {}, rows.length ? rows.map((r) => el("tr", {}, r.map((c) => el("td", {}, c)))) : [el("tr", {}, el("td", { colspan: headers.length }, "Nothing here yet."))]));
  }

  function message(text, kind = "ok") {
    const m = document.getElementById("message");
    m.textContent = text;
    m.className = kind;
  }

  // run wraps an action so its failure shows as a message instead of vanishing.
  function run(fn) {
    return async (ev) => {
      if (ev && ev.preventDefault) ev.preventDefault();
      try { await fn(ev); } catch (e) { message(e.message, "error"); }
    };
  }

  function show(which) {
    document.getElementById("signin").hidden = which !== "signin";
  }

  function formData(form) {
    return Object.fromEntries(new FormData(form).entries());
  }

  async function start(render) {
    document.getElementById("signin-button").addEventListener("click", run(signIn));
    document.getElementById("signout").addEventListener("click", signOut);
    const params = new URLSearchParams(location.search);
    try {
      if (params.has("code") || params.has("error")) await completeSignIn(params);
    } catch (e) { message(e.message, "error"); }
    const tok = token();
    if (!tok) { show("signin"); return; }
    show("app");
    const c = claims(tok);
    document.getElementById("who").textContent = c.preferred_username || c.username || c.sub || "";
    document.getElementById("signout").hidden = false;
    await run(render)();
  }

  return { start, api, el, table, message, run, formData };
})();
