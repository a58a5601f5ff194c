//go:build !unix

package main

import "time"

// processCPU is unknown here: IDEMAUDIT_TIMING shows 0.
func processCPU() time.Duration { return 0 }
