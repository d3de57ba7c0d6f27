package doctor

import (
	"fmt"
	"time"
)

// Clock tolerances. Token expiry and the gateway's revocation entries are
// absolute times, so servers whose clocks disagree reject fresh tokens (iat
// in the future) or accept expired ones. The Date header has a resolution of
// one second, which the thresholds absorb.
const (
	clockWarn = 5 * time.Second
	clockFail = 60 * time.Second
)

// checkClocks (g): each server's Date header against the local clock.
func (d *run) checkClocks() {
	c := Check{ID: "clock", Title: "Clocks of the API Manager, IS and this machine agree"}
	var worst time.Duration
	var parts []string
	var worstServer string
	for _, s := range []dateSample{d.apimDate, d.isDate} {
		if s.Date.IsZero() {
			continue
		}
		// Date is truncated to the second: compare with the local time truncated alike.
		skew := s.Date.Sub(s.At.Truncate(time.Second))
		parts = append(parts, fmt.Sprintf("%s %s", s.Server, describeSkew(skew)))
		if abs(skew) > abs(worst) {
			worst, worstServer = skew, s.Server
		}
	}
	switch {
	case len(parts) == 0:
		c.Status, c.Message = Skip, "Skipped: no server answered with a Date header."
	case abs(worst) > clockFail:
		c.Status = Fail
		c.Message = fmt.Sprintf("The %s clock is off by %s (%s). Tokens would look expired or not yet valid.", worstServer, abs(worst).Round(time.Second), joinParts(parts))
		c.Fix = "synchronise every server with NTP (timedatectl set-ntp true, or chrony)"
	case abs(worst) > clockWarn:
		c.Status = Warn
		c.Message = fmt.Sprintf("The %s clock is off by %s (%s).", worstServer, abs(worst).Round(time.Second), joinParts(parts))
		c.Fix = "synchronise the servers with NTP before token lifetimes or revocations misbehave"
	default:
		c.Status, c.Message = Pass, fmt.Sprintf("Within %s (%s).", clockWarn, joinParts(parts))
	}
	d.add(c)
}

func describeSkew(d time.Duration) string {
	switch {
	case d > 0:
		return fmt.Sprintf("%s ahead", d.Round(time.Second))
	case d < 0:
		return fmt.Sprintf("%s behind", (-d).Round(time.Second))
	}
	return "in step"
}

func abs(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

func joinParts(p []string) string {
	out := ""
	for i, s := range p {
		if i > 0 {
			out += ", "
		}
		out += s
	}
	return out
}
