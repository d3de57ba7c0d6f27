package secret

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// EncryptPlaintextEntries rewrites, in TOML text, every `alias = "[plaintext]"`
// line of one table (table "" is the top level, as in a secret-conf file;
// "secrets" is [secrets] of deployment.toml) to `alias = "<encrypted>"`, as
// WSO2's cipher tool does with its -Dconfigure mode. Everything else — other
// tables, comments, order, already encrypted values — stays byte for byte, so
// the tool can run on an operator's hand-written file. It returns the new text
// and the aliases it encrypted.
func EncryptPlaintextEntries(data []byte, table string, encrypt func(string) (string, error)) ([]byte, []string, error) {
	lines := bytes.SplitAfter(data, []byte("\n"))
	current := ""
	var done []string
	for i, raw := range lines {
		line := strings.TrimSpace(string(raw))
		if strings.HasPrefix(line, "[") {
			current = tableName(line)
			continue
		}
		if current != table || line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		var kv map[string]any
		if err := toml.Unmarshal([]byte(line), &kv); err != nil || len(kv) != 1 {
			// Multi-line values and dotted keys are left for the operator.
			continue
		}
		for alias, v := range kv {
			s, ok := v.(string)
			if !ok {
				continue
			}
			plain, ok := IsPlaceholderPlaintext(s)
			if !ok {
				continue
			}
			keyText, ok := keyPrefix(line, alias)
			if !ok {
				continue
			}
			enc, err := encrypt(plain)
			if err != nil {
				return nil, nil, fmt.Errorf("encrypt alias %q: %w", alias, err)
			}
			indent := string(raw[:len(raw)-len(bytes.TrimLeft(raw, " \t"))])
			eol := ""
			if bytes.HasSuffix(raw, []byte("\n")) {
				eol = "\n"
				if bytes.HasSuffix(raw, []byte("\r\n")) {
					eol = "\r\n"
				}
			}
			lines[i] = []byte(indent + keyText + " = " + strconv.Quote(enc) + eol)
			done = append(done, alias)
		}
	}
	return bytes.Join(lines, nil), done, nil
}

// tableName returns the name of a [table] or [[array]] header line.
func tableName(line string) string {
	if i := strings.Index(line, "#"); i >= 0 && !strings.ContainsAny(line[:i], `"'`) {
		line = line[:i]
	}
	line = strings.TrimSpace(line)
	line = strings.TrimPrefix(strings.TrimPrefix(line, "["), "[")
	line = strings.TrimSuffix(strings.TrimSuffix(line, "]"), "]")
	return strings.TrimSpace(line)
}

// keyPrefix returns the key as written in line (before the '='), checking that
// it really decodes to alias.
func keyPrefix(line, alias string) (string, bool) {
	for i := 0; i < len(line); i++ {
		if line[i] != '=' {
			continue
		}
		k := strings.TrimSpace(line[:i])
		var probe map[string]any
		if toml.Unmarshal([]byte(k+` = ""`), &probe) == nil {
			if _, ok := probe[alias]; ok && len(probe) == 1 {
				return k, true
			}
		}
	}
	return "", false
}
