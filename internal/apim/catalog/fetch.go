package catalog

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// maxDefinitionSize bounds a definition fetched by URL or uploaded.
const maxDefinitionSize = 16 << 20

// FetchDefinition downloads a definition from an http(s) URL with the
// service's (truststore-verified) client.
func (s *Service) FetchDefinition(ctx context.Context, rawURL string) ([]byte, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, invalid(900403, "Malformed URL", "Invalid or Malformed URL %q", rawURL)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, invalid(900403, "Malformed URL", "Invalid or Malformed URL %q", rawURL)
	}
	req.Header.Set("Accept", "application/json, application/yaml, text/yaml, */*")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, invalid(400, "Bad Request", "cannot fetch the definition from %s: %v", u.Redacted(), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, invalid(400, "Bad Request", "fetching the definition from %s answered %d", u.Redacted(), resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxDefinitionSize+1))
	if err != nil {
		return nil, fmt.Errorf("read definition from %s: %w", u.Redacted(), err)
	}
	if len(b) > maxDefinitionSize {
		return nil, invalid(400, "Bad Request", "the definition at %s is larger than %d bytes", u.Redacted(), maxDefinitionSize)
	}
	return b, nil
}
