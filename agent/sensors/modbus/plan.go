package modbus

import (
	"cmp"
	"slices"
)

// batch is one request and the registers it reads.
type batch struct {
	request
	regs []int // indexes into the sensor's registers, by address
}

// plan groups regs into requests of slave: registers of one function
// whose spans touch or overlap share a request, up to MaxCount
// registers; a gap starts a new request, and so does a register that
// would make the request too long. A register is never split between
// requests. Requests come by function, then address.
func plan(slave uint8, regs []Register) []batch {
	order := make([]int, len(regs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		ra, rb := regs[a], regs[b]
		return cmp.Or(cmp.Compare(ra.Function, rb.Function), cmp.Compare(ra.Address, rb.Address))
	})
	var out []batch
	for _, i := range order {
		r := regs[i]
		start, end := int(r.Address), int(r.Address)+int(r.words())
		if n := len(out); n > 0 {
			b := &out[n-1]
			bEnd := int(b.address) + int(b.count)
			if b.function == r.Function && start <= bEnd && max(end, bEnd)-int(b.address) <= MaxCount {
				b.count = uint16(max(end, bEnd) - int(b.address))
				b.regs = append(b.regs, i)
				continue
			}
		}
		out = append(out, batch{
			request: request{slave: slave, function: r.Function, address: r.Address, count: r.words()},
			regs:    []int{i},
		})
	}
	return out
}
