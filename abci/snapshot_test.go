package abci

import (
	"bytes"
	"context"
	"testing"

	abcitypes "github.com/cometbft/cometbft/abci/types"

	"github.com/divoc/divoc/app"
)

// State sync through the ABCI methods: a node lists its snapshot and
// serves its chunks; an empty node accepts the offer with the right app
// hash, refuses it with another, asks for a corrupted chunk again from
// another peer, and ends at the snapshot's height and app hash (what
// CometBFT checks through Info).
func TestStateSyncThroughABCI(t *testing.T) {
	ctx := context.Background()
	src, err := app.Open(app.Options{Dir: t.TempDir(), SnapshotInterval: 3, SnapshotChunkSize: 256})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	c := newChainOn(t, src)
	for i := 0; i < 2; i++ {
		c.block(c.record("r" + string(rune('a'+i))))
	}
	src.WaitSnapshots()
	info, _ := c.abci.Info(ctx, &abcitypes.RequestInfo{})
	if info.LastBlockHeight != 3 {
		t.Fatalf("source at %d", info.LastBlockHeight)
	}
	list, err := c.abci.ListSnapshots(ctx, &abcitypes.RequestListSnapshots{})
	if err != nil || len(list.Snapshots) != 1 || list.Snapshots[0].Height != 3 || list.Snapshots[0].Chunks < 2 {
		t.Fatalf("ListSnapshots: %+v %v", list, err)
	}
	s := list.Snapshots[0]
	if r, _ := c.abci.LoadSnapshotChunk(ctx, &abcitypes.RequestLoadSnapshotChunk{Height: 3, Format: s.Format, Chunk: s.Chunks}); len(r.Chunk) != 0 {
		t.Fatal("served a chunk beyond the snapshot")
	}

	dst, err := app.Open(app.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dst.Close() })
	node := New(dst)
	if r, _ := node.OfferSnapshot(ctx, &abcitypes.RequestOfferSnapshot{Snapshot: s, AppHash: bytes.Repeat([]byte{7}, 32)}); r.Result != abcitypes.ResponseOfferSnapshot_REJECT {
		t.Fatalf("offer with another app hash: %s", r.Result)
	}
	if r, _ := node.OfferSnapshot(ctx, &abcitypes.RequestOfferSnapshot{}); r.Result != abcitypes.ResponseOfferSnapshot_REJECT {
		t.Fatalf("offer of nothing: %s", r.Result)
	}
	if r, _ := node.OfferSnapshot(ctx, &abcitypes.RequestOfferSnapshot{Snapshot: s, AppHash: info.LastBlockAppHash}); r.Result != abcitypes.ResponseOfferSnapshot_ACCEPT {
		t.Fatalf("offer: %s", r.Result)
	}
	for i := uint32(0); i < s.Chunks; i++ {
		ch, err := c.abci.LoadSnapshotChunk(ctx, &abcitypes.RequestLoadSnapshotChunk{Height: s.Height, Format: s.Format, Chunk: i})
		if err != nil || len(ch.Chunk) == 0 {
			t.Fatalf("chunk %d: %v", i, err)
		}
		if i == 1 {
			bad := bytes.Clone(ch.Chunk)
			bad[0] ^= 0xff
			r, _ := node.ApplySnapshotChunk(ctx, &abcitypes.RequestApplySnapshotChunk{Index: i, Chunk: bad, Sender: "badpeer"})
			if r.Result != abcitypes.ResponseApplySnapshotChunk_RETRY || len(r.RefetchChunks) != 1 || r.RefetchChunks[0] != 1 || len(r.RejectSenders) != 1 || r.RejectSenders[0] != "badpeer" {
				t.Fatalf("corrupted chunk: %+v", r)
			}
		}
		r, _ := node.ApplySnapshotChunk(ctx, &abcitypes.RequestApplySnapshotChunk{Index: i, Chunk: ch.Chunk, Sender: "peer"})
		if r.Result != abcitypes.ResponseApplySnapshotChunk_ACCEPT {
			t.Fatalf("chunk %d: %s", i, r.Result)
		}
	}
	got, _ := node.Info(ctx, &abcitypes.RequestInfo{})
	if got.LastBlockHeight != 3 || !bytes.Equal(got.LastBlockAppHash, info.LastBlockAppHash) || got.AppVersion != AppVersion {
		t.Fatalf("after the restore: %+v; want height 3 and %X", got, info.LastBlockAppHash)
	}
	if r, _ := node.ApplySnapshotChunk(ctx, &abcitypes.RequestApplySnapshotChunk{Index: 0, Chunk: []byte("x")}); r.Result != abcitypes.ResponseApplySnapshotChunk_ABORT {
		t.Fatalf("a chunk after the restore: %s", r.Result)
	}
}
