package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
)

// buildBinary builds this command once per test binary run.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "divoc")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// The main job, as a script runs it: `divoc demo --home DIR --exit` exits 0
// and its summary has the lines the issue names, with real numbers.
func TestDemoExitsWithSummary(t *testing.T) {
	bin := buildBinary(t)
	home := filepath.Join(t.TempDir(), "demo-home")
	cmd := exec.Command(bin, "demo", "--home", home, "--exit", "--api-addr", "127.0.0.1:0", "--rows", "2000", "--bad-rows", "16", "--facilities", "4")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("demo failed: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	out := stdout.String()
	committed := regexp.MustCompile(`(?m)^(\d+) events committed$`).FindStringSubmatch(out)
	rate := regexp.MustCompile(`(?m)^(\d+) events/s$`).FindStringSubmatch(out)
	if committed == nil || rate == nil {
		t.Fatalf("summary lacks the 'N events committed' / 'X events/s' lines:\n%s", out)
	}
	n, _ := strconv.Atoi(committed[1])
	// 2000 good rows and 16 bad ones, of which 2 are valid rows with a
	// formula as a name (gen-data's tricky kind), and the policy step's 6
	// rows accepted once their phase opened and 3 under the daily cap.
	if n < 2000+9 || n > 2016+9 {
		t.Fatalf("%d events committed, want 2009 to 2025", n)
	}
	if r, _ := strconv.Atoi(rate[1]); r <= 0 {
		t.Fatalf("rate %d events/s", r)
	}
	for _, want := range []string{"rows rejected", "duplicate_dose", "future_date", "block height", "app hash", "NOT VALID", "revoked at height", "superseded by",
		"not_eligible", "facility_over_cap", "policy: 6 rows refused while phase 3 was closed and accepted once it opened; 2 refused over a facility's daily cap"} {
		if !bytes.Contains(stdout.Bytes(), []byte(want)) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	if _, err := os.Stat(filepath.Join(home, "config", "genesis.json")); err != nil {
		t.Fatalf("demo did not use --home: %v", err)
	}
	// A second demo on the same home refuses rather than overwrite it.
	if err := exec.Command(bin, "demo", "--home", home, "--exit", "--api-addr", "127.0.0.1:0").Run(); err == nil {
		t.Fatal("demo reused a home that already holds a node")
	}
}

func readAll(r interface{ Read([]byte) (int, error) }) []byte {
	var b bytes.Buffer
	b.ReadFrom(r)
	return b.Bytes()
}
