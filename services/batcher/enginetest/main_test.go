package enginetest_test

import (
	"flag"
	"os"
	"testing"
)

// The engine tests mostly wait on timers (lull, polls, build durations), not
// on the CPU: run more of them at once than GOMAXPROCS unless -parallel was
// given.
func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		_ = flag.Set("test.parallel", "6")
	}
	os.Exit(m.Run())
}
