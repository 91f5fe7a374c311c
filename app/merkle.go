package app

import (
	"crypto/sha256"
	"math/bits"
)

// Batch commitments are RFC 6962 Merkle trees (the tree CometBFT's
// crypto/merkle builds), computed here from leaf hashes so that the node can
// keep only the 32-byte leaf hashes of a batch and still prove any leaf.
// A proof produced by MerkleProof verifies with CometBFT's merkle.Proof.

// LeafHash is SHA-256(0x00 || data).
func LeafHash(data []byte) []byte {
	h := sha256.New()
	h.Write([]byte{0})
	h.Write(data)
	return h.Sum(nil)
}

func innerHash(left, right []byte) []byte {
	h := sha256.New()
	h.Write([]byte{1})
	h.Write(left)
	h.Write(right)
	return h.Sum(nil)
}

// splitPoint is the largest power of two strictly less than n (n > 1).
func splitPoint(n int) int {
	return 1 << (bits.Len(uint(n-1)) - 1)
}

// MerkleRoot is the root over leaf hashes (SHA-256 of nothing when empty).
func MerkleRoot(leaves [][]byte) []byte {
	switch len(leaves) {
	case 0:
		h := sha256.Sum256(nil)
		return h[:]
	case 1:
		return leaves[0]
	}
	k := splitPoint(len(leaves))
	return innerHash(MerkleRoot(leaves[:k]), MerkleRoot(leaves[k:]))
}

// MerkleProof returns the aunts of leaf i, lowest first, as CometBFT orders them.
func MerkleProof(leaves [][]byte, i int) [][]byte {
	if len(leaves) <= 1 {
		return nil
	}
	k := splitPoint(len(leaves))
	if i < k {
		return append(MerkleProof(leaves[:k], i), MerkleRoot(leaves[k:]))
	}
	return append(MerkleProof(leaves[k:], i-k), MerkleRoot(leaves[:k]))
}

// VerifyMerkleProof recomputes the root from a leaf hash and its aunts.
func VerifyMerkleProof(root, leaf []byte, index, total int, aunts [][]byte) bool {
	got := rootFromAunts(index, total, leaf, aunts)
	return got != nil && string(got) == string(root)
}

func rootFromAunts(index, total int, leaf []byte, aunts [][]byte) []byte {
	if index < 0 || index >= total {
		return nil
	}
	switch total {
	case 1:
		if len(aunts) != 0 {
			return nil
		}
		return leaf
	}
	if len(aunts) == 0 {
		return nil
	}
	k := splitPoint(total)
	last := aunts[len(aunts)-1]
	if index < k {
		left := rootFromAunts(index, k, leaf, aunts[:len(aunts)-1])
		if left == nil {
			return nil
		}
		return innerHash(left, last)
	}
	right := rootFromAunts(index-k, total-k, leaf, aunts[:len(aunts)-1])
	if right == nil {
		return nil
	}
	return innerHash(last, right)
}
