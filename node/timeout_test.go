package node_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/divoc/divoc/api"
	"github.com/divoc/divoc/app"
	"github.com/divoc/divoc/client"
	"github.com/divoc/divoc/node"
)

// A batch submitted but not seen to commit in time is reported as unknown
// (commit_timeout), not refused: it may still commit, and when it has,
// sending the same rows again names the certificates they got.
func TestCommitTimeoutIsUnknownNotRefused(t *testing.T) {
	n, ds, home := newLocalNode(t, node.LocalOptions{Seed: 11, Facilities: 1, Certificates: 20}, func(s *node.Settings) {
		s.CommitTimeout = node.Duration(time.Nanosecond) // no commit is that fast
	})
	h := node.Home(home)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	fac := ds.Facilities[0].Code
	body, err := os.ReadFile(filepath.Join(home, "gen-data", "certificates-"+fac+".csv"))
	if err != nil {
		t.Fatal(err)
	}
	cl := client.New("http://"+n.APIAddr, facilityToken(n, fac))
	up, err := cl.BulkCertify(ctx, body, "", "", true)
	if err != nil {
		t.Fatal(err)
	}
	if up.Unknown == 0 || up.Unknown != up.Rows-up.Rejected || up.Accepted != 0 {
		t.Fatalf("upload with a commit timeout: %+v", up)
	}
	for _, r := range up.Results {
		if r.Code != api.CodeTimeout || !strings.Contains(r.Reason, "may still commit") {
			t.Fatalf("row result: %+v", r)
		}
	}
	// The batch commits all the same.
	for n.App.Committed().Totals().Certificates < int64(up.Unknown) {
		select {
		case <-ctx.Done():
			t.Fatalf("the batch did not commit: %+v", n.App.Committed().Totals())
		case <-n.Ledger.NextCommit():
		}
	}
	// Sent again, to the node with a sensible timeout: each row a
	// duplicate naming its certificate.
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	s, err := node.LoadSettings(h)
	if err != nil {
		t.Fatal(err)
	}
	s.CommitTimeout = node.Duration(time.Minute)
	if err := node.SaveSettings(h, s); err != nil {
		t.Fatal(err)
	}
	if n, err = node.Start(h); err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	cl = client.New("http://"+n.APIAddr, facilityToken(n, fac))
	again, err := cl.BulkCertify(ctx, body, "", "", true)
	if err != nil {
		t.Fatal(err)
	}
	named := 0
	for _, r := range again.Results {
		if r.Code == string(app.CodeDuplicateDose) && strings.Contains(r.Reason, "certificate ") {
			named++
		}
	}
	if named != up.Unknown {
		t.Fatalf("the resent rows: %d of %d name their certificate: %+v", named, up.Unknown, again.Results)
	}
}
