// Command idemaudit audits logs of side-effecting calls made by AI agents
// and finds the duplicate side effects that retries cause.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/idemaudit/idemaudit/internal/ingest"
)

// interruptGrace is how long an interrupted run may take to clean up (roll
// back the open transaction) before the process exits anyway: a read
// blocked on a silent pipe cannot see the cancellation.
const interruptGrace = 3 * time.Second

func main() {
	if os.Getenv("GOGC") == "" {
		// The Go heap is small (batches of lines on their way to DuckDB,
		// which holds the data outside it): collecting it four times less
		// often saves a tenth of an audit's time for a few MB.
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		// ...but a report holding a huge finding (a million calls of one
		// session) is collected as often as it takes to stay near this
		// (DuckDB's memory, --memory-limit, comes on top)
		debug.SetMemoryLimit(1 << 30)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second Ctrl-C kills at once
		time.Sleep(interruptGrace)
		for ingest.Closing() {
			// a database being closed may be checkpointing: let it finish
			// (nothing would be lost, but the next open replays the log)
			time.Sleep(50 * time.Millisecond)
		}
		fmt.Fprintln(os.Stderr, "idemaudit: interrupted")
		ingest.RemoveSpillDirs() // the run did not get to close its database
		os.Exit(exitInterrupt)
	}()
	if p := os.Getenv("IDEMAUDIT_CPUPROFILE"); p != "" { // for performance work
		if f, err := os.Create(p); err == nil {
			pprof.StartCPUProfile(f)
			code := Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
			pprof.StopCPUProfile()
			f.Close()
			os.Exit(code)
		}
	}
	os.Exit(Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
