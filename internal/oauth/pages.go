package oauth

import (
	"html/template"
	"net/http"
	"net/url"
	"sort"
)

// The login, consent, device and message pages. They are deliberately
// plain: one form each, no scripts, served with headers that forbid
// framing and caching.
var pages = template.Must(template.New("pages").Parse(`
{{define "head"}}<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Product}}</title>
<style>body{font-family:system-ui,sans-serif;background:#f4f5f7;margin:0}main{max-width:380px;margin:8vh auto;background:#fff;padding:2em;border-radius:8px;box-shadow:0 1px 4px #0002}
label{display:block;margin:.8em 0 .2em}input[type=text],input[type=password]{width:100%;padding:.5em;box-sizing:border-box}
button{margin-top:1.2em;padding:.6em 1.2em}.error{color:#b00020}ul{padding-left:1.2em}</style></head><body><main>
<h1>{{.Product}}</h1>{{end}}
{{define "foot"}}</main></body></html>{{end}}
{{define "hidden"}}{{range .Hidden}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">
{{end}}<input type="hidden" name="csrf" value="{{.CSRF}}">{{end}}

{{define "login"}}{{template "head" .}}
<h2>Sign in</h2>{{if .Client}}<p>to continue to <strong>{{.Client}}</strong></p>{{end}}
{{if .Error}}<p class="error" role="alert">{{.Error}}</p>{{end}}
<form method="post" action="{{.Action}}">{{template "hidden" .}}
<input type="hidden" name="kw_action" value="login">
{{if .AskUserCode}}<label for="user_code">Device code</label><input type="text" id="user_code" name="user_code" value="{{.UserCode}}" autocomplete="off">{{end}}
<label for="username">Username</label><input type="text" id="username" name="username" autocomplete="username" required autofocus>
<label for="password">Password</label><input type="password" id="password" name="password" autocomplete="current-password" required>
<button type="submit">Sign in</button></form>
{{template "foot" .}}{{end}}

{{define "consent"}}{{template "head" .}}
<h2>Allow access?</h2><p><strong>{{.Client}}</strong> asks to access your account{{if .Scopes}} with these permissions:{{else}}.{{end}}</p>
{{if .Scopes}}<ul>{{range .Scopes}}<li>{{.}}</li>{{end}}</ul>{{end}}
<form method="post" action="{{.Action}}">{{template "hidden" .}}
<input type="hidden" name="kw_action" value="consent">
<button type="submit" name="consent" value="approve">Allow</button>
<button type="submit" name="consent" value="deny">Deny</button></form>
{{template "foot" .}}{{end}}

{{define "device"}}{{template "head" .}}
<h2>Connect a device</h2>{{if .Error}}<p class="error" role="alert">{{.Error}}</p>{{end}}
<form method="post" action="{{.Action}}">{{template "hidden" .}}
<input type="hidden" name="kw_action" value="device">
<label for="user_code">Code shown on your device</label><input type="text" id="user_code" name="user_code" value="{{.UserCode}}" autocomplete="off" required autofocus>
<button type="submit" name="consent" value="approve">Allow</button>
<button type="submit" name="consent" value="deny">Deny</button></form>
{{template "foot" .}}{{end}}

{{define "message"}}{{template "head" .}}
<h2>{{.Title}}</h2><p{{if .Error}} class="error"{{end}}>{{.Message}}</p>
{{template "foot" .}}{{end}}
`))

type hiddenField struct{ Name, Value string }

type pageData struct {
	Product, Action, CSRF, Client, Error, Title, Message, UserCode string
	AskUserCode                                                    bool
	Hidden                                                         []hiddenField
	Scopes                                                         []string
}

// ownFields are form fields of the engine's pages, never echoed as
// authorization request parameters.
var ownFields = map[string]bool{"kw_action": true, "csrf": true, "username": true, "password": true, "consent": true}

func hiddenFrom(params url.Values) []hiddenField {
	keys := make([]string, 0, len(params))
	for k := range params {
		if !ownFields[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	out := make([]hiddenField, 0, len(keys))
	for _, k := range keys {
		out = append(out, hiddenField{Name: k, Value: params.Get(k)})
	}
	return out
}

func (s *Server) renderPage(w http.ResponseWriter, status int, name string, d pageData) {
	d.Product = s.cfg.ProductName
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	if err := pages.ExecuteTemplate(w, name, d); err != nil {
		s.log.Error("render page", "page", name, "err", err)
	}
}

func (s *Server) errorPage(w http.ResponseWriter, status int, msg string) {
	s.renderPage(w, status, "message", pageData{Title: "Request rejected", Message: msg, Error: "1"})
}
