package cost

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Delta is how the idle cost changes from a base report to a head report of the same
// region and period.
type Delta struct {
	Base, Head *Report
	// Stacks are the stack names of either side, sorted.
	Stacks []string
	// Changes are the charges that differ, per stack, resource and line item.
	Changes []Change
	// NewNotPriced are resources not priced in head that were not (or not for that reason)
	// in base: the delta leaves them out.
	NewNotPriced []Entry
}

// Change is one resource's charge for one line item that differs between base and head.
type Change struct {
	Stack, LogicalID, Resource, Item string
	// Status is "added" (the resource has this line item only in head), "removed" (only in
	// base) or "changed".
	Status                 string
	BaseCents, HeadCents   int64
	BaseDetail, HeadDetail string
}

// Cents is the change in cost.
func (c Change) Cents() int64 { return c.HeadCents - c.BaseCents }

// Compare returns what changes from base to head. Both must be priced with the same table
// region and period.
func Compare(base, head *Report) (*Delta, error) {
	if base.Prices.Region != head.Prices.Region || base.Hours != head.Hours {
		return nil, fmt.Errorf("cannot compare a report of %s over %v hours with one of %s over %v hours",
			base.Prices.Region, base.Hours, head.Prices.Region, head.Hours)
	}
	d := &Delta{Base: base, Head: head}
	d.Stacks = slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(base.Stacks), head.Stacks...))))

	type side struct {
		cents  int64
		detail []string
	}
	key := func(c Charge) string { return c.Stack + "\x00" + c.LogicalID + "\x00" + c.Item }
	collect := func(r *Report) (map[string]*side, map[string]Charge) {
		sides, first := map[string]*side{}, map[string]Charge{}
		for _, c := range r.Charges {
			k := key(c)
			if sides[k] == nil {
				sides[k], first[k] = &side{}, c
			}
			sides[k].cents += c.Cents
			sides[k].detail = append(sides[k].detail, describe(r, c))
		}
		return sides, first
	}
	baseSides, baseFirst := collect(base)
	headSides, headFirst := collect(head)

	keys := map[string]bool{}
	for k := range baseSides {
		keys[k] = true
	}
	for k := range headSides {
		keys[k] = true
	}
	for _, k := range sortedKeys(keys) {
		b, h := baseSides[k], headSides[k]
		ch := Change{Status: "changed"}
		c := baseFirst[k]
		if h != nil {
			c = headFirst[k]
		}
		ch.Stack, ch.LogicalID, ch.Resource, ch.Item = c.Stack, c.LogicalID, c.Resource, c.Item
		switch {
		case b == nil:
			ch.Status = "added"
		case h == nil:
			ch.Status = "removed"
		}
		if b != nil {
			ch.BaseCents, ch.BaseDetail = b.cents, strings.Join(b.detail, ", ")
		}
		if h != nil {
			ch.HeadCents, ch.HeadDetail = h.cents, strings.Join(h.detail, ", ")
		}
		if ch.BaseCents == ch.HeadCents && ch.BaseDetail == ch.HeadDetail {
			continue
		}
		d.Changes = append(d.Changes, ch)
	}

	seen := map[string]bool{}
	for _, e := range base.NotPriced {
		seen[e.Stack+"\x00"+e.LogicalID+"\x00"+e.Reason] = true
	}
	for _, e := range head.NotPriced {
		if !seen[e.Stack+"\x00"+e.LogicalID+"\x00"+e.Reason] {
			d.NewNotPriced = append(d.NewNotPriced, e)
		}
	}
	return d, nil
}

// describe writes a charge's quantity the way a reviewer compares it: "1 task × 2 vCPU".
func describe(r *Report, c Charge) string {
	if c.Detail != "" {
		return c.Detail
	}
	f, _ := r.Prices.Figure(c.Figure)
	return quantity(f, c.Quantity)
}

// Cents is the change of the total.
func (d *Delta) Cents() int64 { return d.Head.TotalCents() - d.Base.TotalCents() }

// Render writes the delta in format f (text or markdown): a headline with the change, the
// totals per stack before and after, and per stack the line items and resources that
// changed it. This is the section scripts/diff.sh puts into the pull-request comment.
func (d *Delta) Render(f Format) string {
	w := newDoc(f)
	per := "/" + d.Head.period()
	if d.Cents() == 0 && len(d.Changes) == 0 {
		w.heading(3, fmt.Sprintf("Idle cost: unchanged, %s%s", usd(d.Head.TotalCents()), per))
	} else {
		w.heading(3, fmt.Sprintf("Idle cost: %s%s", signed(d.Cents()), per))
	}
	w.para(fmt.Sprintf("What the stacks cost while nobody uses them, before and after this change, from the synthesized templates: %s Usage (requests, data processed, logs) is not included.",
		d.Head.Basis()))
	if len(d.Changes) > 0 {
		rows := [][]string{}
		for _, s := range d.Stacks {
			b, h := d.Base.StackCents(s), d.Head.StackCents(s)
			rows = append(rows, []string{w.code(s), usd(b), usd(h), changeCell(w, h-b)})
		}
		rows = append(rows, []string{w.bold("total"), w.bold(usd(d.Base.TotalCents())), w.bold(usd(d.Head.TotalCents())), w.bold(signed(d.Cents()))})
		w.table([]string{"stack", "before", "after", "change"}, "l:r:r:r", rows)
		var items []string
		for _, s := range d.Stacks {
			if line := d.stackLine(w, s); line != "" {
				items = append(items, line)
			}
		}
		w.list("What changed it:", items)
	}
	if len(d.NewNotPriced) > 0 {
		var items []string
		for _, e := range d.NewNotPriced {
			items = append(items, fmt.Sprintf("%s %s (%s): %s", w.code(e.Stack), w.code(e.Resource), e.Type, e.Reason))
		}
		w.list(w.bold("Not priced")+" (may cost money; left out of the change above):", items)
	}
	return w.String()
}

func changeCell(w *doc, c int64) string {
	if c == 0 {
		return "$0.00"
	}
	return w.bold(signed(c))
}

// stackLine is one stack's change: "`S` **+$36.50/month**: NAT gateway +$32.85 (added `X`), ...".
func (d *Delta) stackLine(w *doc, stack string) string {
	type item struct {
		name  string
		cents int64
		parts []string
	}
	var items []*item
	index := map[string]*item{}
	for _, c := range d.Changes {
		if c.Stack != stack {
			continue
		}
		it := index[c.Item]
		if it == nil {
			it = &item{name: c.Item}
			index[c.Item] = it
			items = append(items, it)
		}
		it.cents += c.Cents()
		part := c.Status + " " + w.code(c.Resource)
		if c.Status == "changed" && c.BaseDetail != c.HeadDetail {
			part += ": " + c.BaseDetail + " → " + c.HeadDetail
		}
		it.parts = append(it.parts, part)
	}
	if len(items) == 0 {
		return ""
	}
	slices.SortStableFunc(items, func(a, b *item) int {
		return cmp.Or(cmp.Compare(abs(b.cents), abs(a.cents)), cmp.Compare(a.name, b.name))
	})
	var parts []string
	for _, it := range items {
		parts = append(parts, fmt.Sprintf("%s %s (%s)", it.name, signed(it.cents), strings.Join(it.parts, "; ")))
	}
	total := d.Head.StackCents(stack) - d.Base.StackCents(stack)
	return fmt.Sprintf("%s %s: %s", w.code(stack), w.bold(signed(total)+"/"+d.Head.period()), strings.Join(parts, ", "))
}

func abs(c int64) int64 {
	if c < 0 {
		return -c
	}
	return c
}
