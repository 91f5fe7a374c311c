package gendata

import "math/rand/v2"

// rng draws everything from one PCG stream. Only the PCG algorithm itself is
// relied on (not rand.Rand's derivations), so a seed gives the same data on
// every Go version.
type rng struct{ src *rand.PCG }

func newRNG(seed int64) *rng {
	return &rng{rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15)}
}

// intn returns a number in [0, n); n must be positive. The modulo bias is
// below 2^-40 for the sizes used here.
func (r *rng) intn(n int) int { return int(r.src.Uint64() % uint64(n)) }

// between returns a number in [lo, hi].
func (r *rng) between(lo, hi int) int { return lo + r.intn(hi-lo+1) }

// chance returns true with probability p.
func (r *rng) chance(p float64) bool { return float64(r.src.Uint64()>>11)/(1<<53) < p }

// float returns a number in [lo, hi).
func (r *rng) float(lo, hi float64) float64 {
	return lo + (hi-lo)*float64(r.src.Uint64()>>11)/(1<<53)
}

// digits returns n random decimal digits.
func (r *rng) digits(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + r.intn(10))
	}
	return string(b)
}

// letters returns n random capital letters.
func (r *rng) letters(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('A' + r.intn(26))
	}
	return string(b)
}

func pick[T any](r *rng, list []T) T { return list[r.intn(len(list))] }

// weighted returns an index into weights, with probability proportional to
// its weight.
func (r *rng) weighted(weights []int, total int) int {
	n := r.intn(total)
	for i, w := range weights {
		if n < w {
			return i
		}
		n -= w
	}
	return len(weights) - 1
}
