package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newConfigCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Work with deployment.toml",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "check FILE",
		Short: "Check a deployment.toml without starting anything",
		Long: `Check a deployment.toml the way every role reads it at start: strict decoding
(an unknown key or a wrong type is an error), placeholders ($env{NAME},
${admin.username}, $secret{alias}) resolved, values validated. Errors name the
file, line and key. Nothing is written.`,
		Example: `  keyway config check deployment.toml`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(args[0], "")
			if err != nil {
				return err
			}
			p := cfg.Ports()
			fmt.Fprintf(cmd.OutOrStdout(), "%s: OK (management https://%s:%d, gateway %d/%d)\n", args[0], cfg.Server.Hostname, p.Management, p.GatewayHTTPS, p.GatewayHTTP)
			return nil
		},
	})
	return cmd
}
