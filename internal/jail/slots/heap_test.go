package slots

import (
	"math/rand/v2"
	"testing"
)

// keyed is a table of slots with changeable keys, for the heap's tests.
type keyed struct {
	key []int64
	pos []int32
}

func (k *keyed) Before(a, b int32) bool { return k.key[a] < k.key[b] }
func (k *keyed) SetPos(s, pos int32)    { k.pos[s] = pos }
func (k *keyed) Pos(s int32) int32      { return k.pos[s] }

// check verifies the heap order and every recorded position.
func check(t *testing.T, h *Heap[*keyed], k *keyed, in map[int32]bool) {
	t.Helper()
	hs := h.Slots()
	if len(hs) != len(in) {
		t.Fatalf("heap holds %d slots, want %d", len(hs), len(in))
	}
	for i, s := range hs {
		if !in[s] {
			t.Fatalf("slot %d in the heap but not pushed", s)
		}
		if k.pos[s] != int32(i) {
			t.Fatalf("slot %d at %d records position %d", s, i, k.pos[s])
		}
		if i > 0 && k.key[hs[(i-1)/2]] > k.key[s] {
			t.Fatalf("order broken at %d", i)
		}
	}
}

// TestHeap pushes, fixes and removes slots at random and checks the order
// and positions after each step, and that Top always has the least key.
func TestHeap(t *testing.T) {
	const n = 200
	r := rand.New(rand.NewPCG(1, 2))
	k := &keyed{key: make([]int64, n), pos: make([]int32, n)}
	h := NewHeap(k)
	in := map[int32]bool{}
	for step := 0; step < 5000; step++ {
		s := int32(r.IntN(n))
		switch {
		case !in[s]:
			k.key[s] = r.Int64N(1000)
			h.Push(s)
			in[s] = true
		case r.IntN(2) == 0:
			k.key[s] = r.Int64N(1000)
			h.Fix(s)
		default:
			h.Remove(s)
			delete(in, s)
			if k.pos[s] != -1 {
				t.Fatalf("removed slot %d records position %d", s, k.pos[s])
			}
		}
		check(t, &h, k, in)
		if top, ok := h.Top(); ok {
			for s := range in {
				if k.key[s] < k.key[top] {
					t.Fatalf("top %d (key %d) but slot %d has key %d", top, k.key[top], s, k.key[s])
				}
			}
		} else if len(in) != 0 {
			t.Fatal("Top found nothing in a non-empty heap")
		}
	}
	h.Reset()
	if h.Len() != 0 {
		t.Fatalf("Len %d after Reset", h.Len())
	}
}
