// Command keyway runs Keyway, a Go replacement for WSO2 API Manager 4.5 and
// WSO2 Identity Server 7: one binary whose subcommands are the server roles
// (is, apim, gateway, or both servers at once with up) and the tools around
// them (config check, truststore, version).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first signal, restore the default handling so that a
		// second Ctrl-C ends a slow graceful shutdown at once.
		<-ctx.Done()
		stop()
	}()
	err := newRootCommand().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "keyway:", err)
		os.Exit(1)
	}
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "keyway",
		Short: "API Manager and Identity Server in one binary",
		Long: `Keyway is a Go replacement for WSO2 API Manager 4.5 and WSO2 Identity Server 7
("Pattern 6": an API Manager all-in-one node that uses the Identity Server as its
key manager). It reads the products' deployment.toml, speaks their REST and
OAuth2 contracts, and runs as one binary:

  keyway up        API Manager (:9443, gateway :8243/:8280) and Identity Server
                   (:9444) in one process, with embedded storage and generated,
                   mutually trusted keystores
  keyway apim      the API Manager all-in-one role
  keyway is        the Identity Server role
  keyway gateway   a gateway-only node fed by an API Manager control plane

Every role takes --config deployment.toml, --data-dir and --offset.`,
		Version:       versionString(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.AddCommand(
		newUpCommand(),
		newAPIMCommand(),
		newISCommand(),
		newGatewayCommand(),
		newConfigCommand(),
		newTruststoreCommand(),
		newVersionCommand(),
	)
	root.AddCommand(extraCommands()...)
	return root
}
