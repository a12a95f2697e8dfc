package cost

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Line is the charges of one line item in one stack, summed.
type Line struct {
	Stack, Item string
	Category    Category
	Figure      string
	Quantity    float64
	Cents       int64
	// Resources are the resources behind the line, with their details.
	Resources []string
}

// Lines returns the line items of a stack, most expensive first.
func (r *Report) Lines(stack string) []Line {
	var lines []Line
	index := map[string]int{}
	for _, c := range r.Charges {
		if c.Stack != stack {
			continue
		}
		key := c.Item + "\x00" + c.Figure
		i, ok := index[key]
		if !ok {
			i = len(lines)
			index[key] = i
			lines = append(lines, Line{Stack: stack, Item: c.Item, Category: c.Category, Figure: c.Figure})
		}
		lines[i].Quantity += c.Quantity
		lines[i].Cents += c.Cents
		name := c.Resource
		if c.Detail != "" {
			name += " (" + c.Detail + ")"
		}
		lines[i].Resources = append(lines[i].Resources, name)
	}
	slices.SortStableFunc(lines, func(a, b Line) int {
		return cmp.Or(cmp.Compare(b.Cents, a.Cents), cmp.Compare(a.Item, b.Item))
	})
	return lines
}

// StackCents is the cost of one stack.
func (r *Report) StackCents(stack string) int64 {
	var sum int64
	for _, c := range r.Charges {
		if c.Stack == stack {
			sum += c.Cents
		}
	}
	return sum
}

// TotalCents is the cost of every stack.
func (r *Report) TotalCents() int64 {
	var sum int64
	for _, c := range r.Charges {
		sum += c.Cents
	}
	return sum
}

// CategoryCents sums the charges of one category over every stack.
func (r *Report) CategoryCents(cat Category) int64 {
	var sum int64
	for _, c := range r.Charges {
		if c.Category == cat {
			sum += c.Cents
		}
	}
	return sum
}

// Monthly reports whether the report prices a whole month.
func (r *Report) Monthly() bool { return r.Hours == r.Prices.table.HoursPerMonth }

// period names what the report prices: "month", or "2 hours".
func (r *Report) period() string {
	if r.Monthly() {
		return "month"
	}
	return plural(r.Hours, "hour")
}

// Basis is one sentence saying what the figures are: region, period, prices and their dates.
func (r *Report) Basis() string {
	oldest, newest := r.Prices.DateRange()
	t := r.Prices.table
	hours := fmt.Sprintf("%s hours a month", fmtQty(t.HoursPerMonth))
	if !r.Monthly() {
		hours = plural(r.Hours, "hour")
	}
	return fmt.Sprintf("Region %s (%s), %s; %s; prices from `%s`, figures dated %s to %s.",
		r.Prices.Region, r.Prices.Name, hours, t.Basis, TableFile, oldest, newest)
}

// Format is an output format of the reports.
type Format string

// Output formats.
const (
	Text     Format = "text"
	Markdown Format = "markdown"
	JSON     Format = "json"
)

// ParseFormat checks a format name.
func ParseFormat(s string) (Format, error) {
	switch f := Format(s); f {
	case Text, Markdown, JSON:
		return f, nil
	}
	return "", fmt.Errorf("format %q is not one of text, markdown, json", s)
}

// Render writes the report in format f: the total per stack, then per stack its line items
// with their resources, what costs nothing while idle, and what is not priced.
func (r *Report) Render(f Format) string {
	if f == JSON {
		return r.json()
	}
	w := newDoc(f)
	what := "Idle cost"
	if !r.Monthly() {
		what = "Cost of " + r.period()
	}
	w.heading(2, fmt.Sprintf("%s: %s/%s", what, usd(r.TotalCents()), r.period()))
	w.para(r.Basis() + " What the stacks cost while nobody uses them: usage (requests, data processed, logs) is not included.")
	r.writeBody(w, 3)
	return w.String()
}

// writeBody writes the summary table and a section per stack with headings of level.
func (r *Report) writeBody(w *doc, level int) {
	r.writeSummary(w)
	for _, stack := range r.Stacks {
		w.heading(level, fmt.Sprintf("%s: %s/%s", w.code(stack), usd(r.StackCents(stack)), r.period()))
		r.writeStack(w, stack)
	}
}

func (r *Report) writeSummary(w *doc) {
	rows := [][]string{}
	for _, stack := range r.Stacks {
		rows = append(rows, []string{w.code(stack), usd(r.StackCents(stack))})
	}
	rows = append(rows, []string{w.bold("total"), w.bold(usd(r.TotalCents()))})
	w.table([]string{"stack", r.costColumn()}, "l:r", rows)
	if n := len(r.NotPriced); n > 0 {
		w.para(fmt.Sprintf("%s not priced (listed per stack below): the total leaves %s out.", plural(float64(n), "resource"), pronoun(n)))
	}
}

func (r *Report) costColumn() string {
	if r.Monthly() {
		return "monthly"
	}
	return "cost"
}

func (r *Report) writeStack(w *doc, stack string) {
	lines := r.Lines(stack)
	if len(lines) > 0 {
		rows := [][]string{}
		for _, l := range lines {
			f, _ := r.Prices.Figure(l.Figure)
			rows = append(rows, []string{l.Item, quantity(f, l.Quantity), unitPrice(f), usd(l.Cents), w.codes(l.Resources)})
		}
		w.table([]string{"line item", "quantity", "unit price", r.costColumn(), "resources"}, "l:r:r:r:l", rows)
	} else {
		w.para("Nothing in this stack costs money while idle.")
	}
	var items []string
	for _, g := range groupEntries(r.Idle, stack) {
		items = append(items, fmt.Sprintf("%s ×%d, %s: %s", g.typ, len(g.names), g.reason, w.codes(g.names)))
	}
	if len(items) > 0 {
		w.list("$0 when idle:", items)
	}
	items = nil
	for _, g := range groupEntries(r.NotPriced, stack) {
		items = append(items, fmt.Sprintf("%s ×%d, %s: %s", g.typ, len(g.names), g.reason, w.codes(g.names)))
	}
	if len(items) > 0 {
		w.list(w.bold("Not priced")+" (may cost money; not in the total):", items)
	}
	if types := r.NoCharge[stack]; len(types) > 0 {
		n, parts := 0, []string{}
		for _, typ := range sortedKeys(types) {
			n += types[typ]
			parts = append(parts, fmt.Sprintf("%s ×%d", strings.TrimPrefix(typ, "AWS::"), types[typ]))
		}
		w.para(fmt.Sprintf("No charge of %s own: %s.", possessive(n), strings.Join(parts, ", ")))
	}
}

type entryGroup struct {
	typ, reason string
	names       []string
}

// groupEntries groups the entries of a stack by type and reason, in the order of the types.
func groupEntries(entries []Entry, stack string) []entryGroup {
	var groups []entryGroup
	index := map[string]int{}
	for _, e := range entries {
		if e.Stack != stack {
			continue
		}
		key := e.Type + "\x00" + e.Reason
		i, ok := index[key]
		if !ok {
			i = len(groups)
			index[key] = i
			groups = append(groups, entryGroup{typ: e.Type, reason: e.Reason})
		}
		groups[i].names = append(groups[i].names, e.Resource)
	}
	slices.SortStableFunc(groups, func(a, b entryGroup) int { return cmp.Compare(a.typ, b.typ) })
	return groups
}

func (r *Report) json() string {
	type line struct {
		Item      string   `json:"item"`
		Figure    string   `json:"figure"`
		Quantity  float64  `json:"quantity"`
		USD       float64  `json:"usd"`
		Resources []string `json:"resources"`
	}
	type stack struct {
		Name      string         `json:"name"`
		USD       float64        `json:"usd"`
		Lines     []line         `json:"lines"`
		Idle      []Entry        `json:"idle"`
		NotPriced []Entry        `json:"notPriced"`
		NoCharge  map[string]int `json:"noCharge"`
	}
	out := struct {
		Region string  `json:"region"`
		Hours  float64 `json:"hours"`
		USD    float64 `json:"usd"`
		Stacks []stack `json:"stacks"`
	}{Region: r.Prices.Region, Hours: r.Hours, USD: float64(r.TotalCents()) / 100}
	for _, name := range r.Stacks {
		s := stack{Name: name, USD: float64(r.StackCents(name)) / 100, NoCharge: r.NoCharge[name], Lines: []line{}, Idle: []Entry{}, NotPriced: []Entry{}}
		for _, l := range r.Lines(name) {
			s.Lines = append(s.Lines, line{Item: l.Item, Figure: l.Figure, Quantity: l.Quantity, USD: float64(l.Cents) / 100, Resources: l.Resources})
		}
		for _, e := range r.Idle {
			if e.Stack == name {
				s.Idle = append(s.Idle, e)
			}
		}
		for _, e := range r.NotPriced {
			if e.Stack == name {
				s.NotPriced = append(s.NotPriced, e)
			}
		}
		out.Stacks = append(out.Stacks, s)
	}
	b, _ := json.MarshalIndent(out, "", "  ")
	return string(b) + "\n"
}

// usd writes cents as dollars: $1,234.56.
func usd(c int64) string {
	sign := ""
	if c < 0 {
		sign, c = "-", -c
	}
	whole := strconv.FormatInt(c/100, 10)
	for i := len(whole) - 3; i > 0; i -= 3 {
		whole = whole[:i] + "," + whole[i:]
	}
	return fmt.Sprintf("%s$%s.%02d", sign, whole, c%100)
}

// signed writes a change: +$36.50, -$3.65, $0.00.
func signed(c int64) string {
	if c > 0 {
		return "+" + usd(c)
	}
	return usd(c)
}

// unitPrice writes a figure's price: $0.045/hour, $0.40/month; unconfirmed figures say so.
func unitPrice(f Figure) string {
	s := strconv.FormatFloat(f.USD, 'f', -1, 64)
	if i := strings.IndexByte(s, '.'); i < 0 {
		s += ".00"
	} else if len(s)-i == 2 {
		s += "0"
	}
	out := "$" + s + "/" + f.Per
	if f.Unconfirmed {
		out += " (unconfirmed)"
	}
	return out
}

// quantity writes a line's quantity in the figure's unit: 1, 2 vCPU, 20 GB.
func quantity(f Figure, q float64) string {
	if u := f.unit(); u != "" {
		return fmtQty(round(q, 4)) + " " + u
	}
	return fmtQty(round(q, 4))
}

func round(x float64, digits int) float64 {
	p := 1.0
	for range digits {
		p *= 10
	}
	return float64(int64(x*p+0.5)) / p
}

func pronoun(n int) string {
	if n == 1 {
		return "it"
	}
	return "them"
}

func possessive(n int) string {
	if n == 1 {
		return "its"
	}
	return "their"
}

// doc writes Markdown or plain text with the same calls.
type doc struct {
	format Format
	b      strings.Builder
}

func newDoc(f Format) *doc { return &doc{format: f} }

func (d *doc) String() string { return strings.TrimRight(d.b.String(), "\n") + "\n" }

func (d *doc) heading(level int, s string) {
	if d.format == Markdown {
		d.b.WriteString(strings.Repeat("#", level) + " " + s + "\n\n")
		return
	}
	d.b.WriteString(s + "\n")
	if level <= 2 {
		d.b.WriteString(strings.Repeat("=", len([]rune(s))) + "\n")
	}
	d.b.WriteString("\n")
}

func (d *doc) para(s string) {
	if d.format == Text {
		s = strings.ReplaceAll(strings.ReplaceAll(s, "`", ""), "**", "")
	}
	d.b.WriteString(s + "\n\n")
}

func (d *doc) list(intro string, items []string) {
	if d.format == Text {
		intro = strings.ReplaceAll(intro, "**", "")
	}
	d.b.WriteString(intro + "\n\n")
	for _, it := range items {
		d.b.WriteString("- " + it + "\n")
	}
	d.b.WriteString("\n")
}

func (d *doc) code(s string) string {
	if d.format == Markdown {
		return "`" + s + "`"
	}
	return s
}

func (d *doc) codes(names []string) string {
	out := make([]string, len(names))
	for i, n := range names {
		// The detail in parentheses stays outside the code span.
		if j := strings.Index(n, " ("); j > 0 {
			out[i] = d.code(n[:j]) + n[j:]
		} else {
			out[i] = d.code(n)
		}
	}
	return strings.Join(out, ", ")
}

func (d *doc) bold(s string) string {
	if d.format == Markdown {
		return "**" + s + "**"
	}
	return s
}

// table writes a table; align is one "l" or "r" per column, separated by ":".
func (d *doc) table(header []string, align string, rows [][]string) {
	aligns := strings.Split(align, ":")
	if d.format == Markdown {
		d.b.WriteString("| " + strings.Join(header, " | ") + " |\n|")
		for _, a := range aligns {
			if a == "r" {
				d.b.WriteString("---:|")
			} else {
				d.b.WriteString("---|")
			}
		}
		d.b.WriteString("\n")
		for _, row := range rows {
			cells := make([]string, len(row))
			for i, c := range row {
				cells[i] = strings.ReplaceAll(c, "|", `\|`)
			}
			d.b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
		}
		d.b.WriteString("\n")
		return
	}
	tw := tabwriter.NewWriter(&d.b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, row := range rows {
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	tw.Flush()
	d.b.WriteString("\n")
}
