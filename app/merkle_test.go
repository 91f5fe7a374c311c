package app

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/cometbft/cometbft/crypto/merkle"
)

// The batch tree must be CometBFT's tree, so that verifiers can use its
// merkle.Proof on what this node returns.
func TestMerkleMatchesCometBFT(t *testing.T) {
	for _, n := range []int{1, 2, 3, 4, 5, 7, 8, 9, 100, 1000} {
		items := make([][]byte, n)
		leaves := make([][]byte, n)
		for i := range items {
			items[i] = []byte(fmt.Sprintf("event %d", i))
			leaves[i] = LeafHash(items[i])
		}
		root, proofs := merkle.ProofsFromByteSlices(items)
		if got := MerkleRoot(leaves); !bytes.Equal(got, root) {
			t.Fatalf("n=%d: root %x, CometBFT %x", n, got, root)
		}
		for _, i := range []int{0, n / 2, n - 1} {
			aunts := MerkleProof(leaves, i)
			if len(aunts) != len(proofs[i].Aunts) {
				t.Fatalf("n=%d i=%d: %d aunts, CometBFT %d", n, i, len(aunts), len(proofs[i].Aunts))
			}
			p := merkle.Proof{Total: int64(n), Index: int64(i), LeafHash: leaves[i], Aunts: aunts}
			if err := p.Verify(root, items[i]); err != nil {
				t.Fatalf("n=%d i=%d: CometBFT rejects our proof: %v", n, i, err)
			}
			if !VerifyMerkleProof(root, leaves[i], i, n, aunts) {
				t.Fatalf("n=%d i=%d: own verifier rejects proof", n, i)
			}
			if n > 1 && VerifyMerkleProof(root, leaves[(i+1)%n], i, n, aunts) {
				t.Fatalf("n=%d i=%d: proof verifies for another leaf", n, i)
			}
		}
	}
}
