package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"

	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/keyway/keyway/internal/httpx"
	"github.com/keyway/keyway/internal/node"
	"github.com/keyway/keyway/internal/platform"
	"github.com/keyway/keyway/internal/quickstart"
)

// BaseSampleBackendPort is where `keyway up` serves the sample API's backend
// (plus the port offset), on the loopback interface only.
const BaseSampleBackendPort = 8290

// quickStart returns the AfterStart hook of `keyway up`: once both servers
// listen, it starts the sample backend and drives the REST APIs to register
// the Identity Server as key manager WSO2IS7, publish and deploy the sample
// API and subscribe an application with keys from the Identity Server; then
// it prints the portal URLs and two copy-paste commands.
func quickStart(out io.Writer, dataDir string, offset int) node.AfterStart {
	return func(ctx context.Context, platforms []*platform.Platform, servers []*node.Server) error {
		if len(platforms) != 2 || len(servers) != 2 {
			return errors.New("quick start needs the Identity Server and the API Manager")
		}
		is, apim := servers[0], servers[1]
		ap := platforms[1]
		logger := ap.Logger.With("task", "quick-start")

		backend := &httpx.Server{
			Name:    "sample-backend",
			Addr:    net.JoinHostPort("127.0.0.1", strconv.Itoa(BaseSampleBackendPort+offset)),
			Handler: quickstart.NewBackend().Handler(),
			Logger:  logger,
		}
		if err := backend.Start(); err != nil {
			return fmt.Errorf("start the sample backend: %w", err)
		}
		go func() {
			<-ctx.Done()
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = backend.Shutdown(sctx)
		}()

		absData, err := filepath.Abs(dataDir)
		if err != nil {
			absData = dataDir
		}
		caFile := filepath.Join(absData, "apim", node.SecurityDir, node.TrustStoreFile)
		host := ap.Config.Server.Hostname
		opts := quickstart.Options{
			APIMURL:    apim.ManagementURL(),
			GatewayURL: "https://" + net.JoinHostPort(host, strconv.Itoa(apim.GatewayHTTPSPort())),
			ISURL:      is.ManagementURL(),
			Username:   ap.Config.SuperAdmin.Username,
			Password:   ap.Config.SuperAdmin.Password,
			Client:     ap.Trust.HTTPClient(30 * time.Second),
			BackendURL: "http://" + backend.Address() + "/pizzashack",
			StateFile:  filepath.Join(absData, "quickstart.json"),
			ISCACert:   caFile,
			APIMCACert: caFile,
			Logger:     logger,
		}
		res, err := ensureWithRetry(ctx, logger, opts)
		if err != nil {
			fmt.Fprintf(out, "\nThe quick start could not finish: %v\nThe servers keep running; `keyway doctor --data-dir %s` explains what is wrong.\n", err, filepath.Join(dataDir, "apim"))
			return err
		}
		printQuickStart(out, opts, res, apim, is)
		// Start-up (key generation, migrations, the quick start itself) leaves
		// garbage behind; hand it back so an idle node stays small.
		debug.FreeOSMemory()
		return nil
	}
}

// ensureWithRetry retries the quick start a few times: right after start the
// gateway and the key manager connector may still be settling.
func ensureWithRetry(ctx context.Context, logger *slog.Logger, opts quickstart.Options) (*quickstart.Result, error) {
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(time.Duration(attempt) * time.Second):
			}
		}
		res, err := quickstart.Ensure(ctx, opts)
		if err == nil {
			return res, nil
		}
		lastErr = err
		logger.Warn("quick-start step failed, retrying", "attempt", attempt+1, "err", err)
	}
	return nil, lastErr
}

func printQuickStart(out io.Writer, o quickstart.Options, res *quickstart.Result, apim, is *node.Server) {
	var b strings.Builder
	fmt.Fprintf(&b, "\nKeyway is up: Pattern 6 on one machine.\n\n")
	fmt.Fprintf(&b, "  Publisher        %s/publisher\n", apim.ManagementURL())
	fmt.Fprintf(&b, "  Developer Portal %s/devportal\n", apim.ManagementURL())
	fmt.Fprintf(&b, "  Admin Portal     %s/admin\n", apim.ManagementURL())
	fmt.Fprintf(&b, "  IS console       %s/console\n", is.ManagementURL())
	fmt.Fprintf(&b, "  Gateway          %s   (HTTP port %d)\n", o.GatewayURL, apim.GatewayHTTPPort())
	fmt.Fprintf(&b, "  Sign in as %s/%s (change [super_admin] before real use).\n\n", o.Username, o.Password)
	fmt.Fprintf(&b, "The Identity Server is key manager %s; %s %s is published and deployed,\n", quickstart.KeyManagerName, quickstart.APIName, quickstart.APIVersion)
	fmt.Fprintf(&b, "and application %s is subscribed with keys from the Identity Server.\n\n", quickstart.AppName)
	fmt.Fprintf(&b, "Get a token from the Identity Server:\n\n    %s\n\n", res.TokenCommand(o))
	fmt.Fprintf(&b, "Call the API through the gateway:\n\n    %s\n\n", res.CallCommand(o))
	_, _ = io.WriteString(out, b.String())
}
