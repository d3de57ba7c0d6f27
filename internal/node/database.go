package node

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/keyway/keyway/internal/config"
	"github.com/keyway/keyway/internal/db"
	"github.com/keyway/keyway/internal/platform"
)

// OpenDatabase opens the database a [database.NAME] block describes and adds
// a readiness check that pings it. logicalName (apim_db, shared_db,
// identity_db) names the embedded file <data>/database/<logicalName>.db when
// the block has no URL and no host. The caller closes the database, usually
// from its component's Close.
func OpenDatabase(ctx context.Context, p *platform.Platform, c config.Database, logicalName string) (*db.DB, error) {
	dc, err := DatabaseConfig(c, logicalName, p.DataDir)
	if err != nil {
		return nil, err
	}
	d, err := db.Open(ctx, dc)
	if err != nil {
		return nil, fmt.Errorf("[database.%s]: %w", logicalName, err)
	}
	p.Logger.Info("database opened", "database", logicalName, "engine", string(d.Dialect), "where", d.Where)
	p.Health.AddCheck("database:"+logicalName, func(ctx context.Context) error {
		if err := d.PingContext(ctx); err != nil {
			return fmt.Errorf("database %s does not answer: %w", logicalName, err)
		}
		return nil
	})
	return d, nil
}

// DatabaseConfig maps a [database.NAME] block to a db.Config. A block with
// hostname/port/name and no url gets a URL for its type; pool_options
// maxActive, maxIdle and maxLifetime (milliseconds, as the JDBC pools count)
// bound the pool.
func DatabaseConfig(c config.Database, logicalName, dataDir string) (db.Config, error) {
	dc := db.Config{
		Type:        c.Type,
		URL:         c.URL,
		Username:    c.Username,
		Password:    c.Password,
		Name:        logicalName,
		DataDir:     dataDir,
		MaxOpen:     c.PoolOptions.MaxActive,
		MaxIdle:     c.PoolOptions.MaxIdle,
		MaxLifetime: time.Duration(c.PoolOptions.MaxLifetime) * time.Millisecond,
	}
	if dc.URL != "" || c.Hostname == "" {
		return dc, nil
	}
	name := c.Name
	if name == "" {
		name = logicalName
	}
	switch strings.ToLower(c.Type) {
	case "postgre", "postgres", "postgresql":
		port := c.Port
		if port == 0 {
			port = 5432
		}
		dc.URL = "jdbc:postgresql://" + net.JoinHostPort(c.Hostname, strconv.Itoa(port)) + "/" + name
	case "mysql", "mariadb":
		port := c.Port
		if port == 0 {
			port = 3306
		}
		dc.URL = "jdbc:mysql://" + net.JoinHostPort(c.Hostname, strconv.Itoa(port)) + "/" + name
	default:
		return dc, fmt.Errorf("[database.%s]: hostname is set but type %q is not a server database (postgre, mysql, mariadb)", logicalName, c.Type)
	}
	return dc, nil
}
