// Package cost prices what the stacks of a synthesized CDK app cost while nobody uses them:
// the resources that bill by the hour or by the month (NAT gateways, public IPv4 addresses,
// load balancers, Fargate tasks, database instances and storage, secrets, keys, alarms),
// read from the CloudFormation templates of a cloud assembly (cdk.out) and priced from a
// table kept in the repository as data (prices.json), where every figure carries its source
// and date.
//
// Resources billed only by use (Lambda, Step Functions, API Gateway, on-demand DynamoDB, log
// groups) are listed at $0 with what they bill; types with no charge of their own (IAM,
// security groups, subnets) are counted; any other type is listed as not priced rather than
// silently left out. The package reads JSON only and does not import the CDK, so it builds in
// seconds; cmd/cost is its command and scripts/diff.sh puts its delta into the pull-request
// comment.
package cost

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

//go:embed prices.json
var pricesJSON []byte

// TableFile is where the default price table lives in the repository, for messages.
const TableFile = "internal/cost/prices.json"

// Table is a price table: figures per region, and which resource types bill only by use or
// have no charge of their own.
type Table struct {
	About string `json:"about"`
	// Currency of every figure.
	Currency string `json:"currency"`
	// HoursPerMonth turns hourly prices into monthly ones (AWS uses 730).
	HoursPerMonth float64 `json:"hoursPerMonth"`
	// Basis says which prices these are (on-demand list prices, ...).
	Basis string `json:"basis"`
	// Regions maps a region code (us-east-1) to its figures.
	Regions map[string]Region `json:"regions"`
	// PayPerUse maps a resource type to what it bills by use: it costs nothing while idle.
	PayPerUse map[string]string `json:"payPerUse"`
	// NoCharge lists resource types that have no charge of their own.
	NoCharge []string `json:"noCharge"`
}

// Region is the figures of one region.
type Region struct {
	// Name is the region's name (US East (N. Virginia)).
	Name string `json:"name"`
	// Figures maps a figure key (ec2.natGateway) to its price.
	Figures map[string]Figure `json:"figures"`
}

// Figure is one price with where it comes from.
type Figure struct {
	// USD is the price in Currency per Per.
	USD float64 `json:"usd"`
	// Per is the unit: hour, vCPU-hour, GB-hour (per resource and hour), month or GB-month.
	Per string `json:"per"`
	// What is priced, in words.
	What string `json:"what"`
	// Date is the date the source gives for the price, or the day it was read when the
	// source gives none (YYYY-MM-DD).
	Date string `json:"date"`
	// Source is the page the figure was read from.
	Source string `json:"source"`
	// Quote is what the source says, shortened.
	Quote string `json:"quote"`
	// Page is the AWS pricing page the source restates.
	Page string `json:"page"`
	// Unconfirmed marks a figure not found stated for this region in any source.
	Unconfirmed bool `json:"unconfirmed,omitempty"`
}

// hourly reports whether the figure is charged per hour (rather than per month).
func (f Figure) hourly() bool { return f.Per == "hour" || strings.HasSuffix(f.Per, "-hour") }

// unit is what one of the figure's quantity is ("vCPU", "GB"; "" for a count of resources).
func (f Figure) unit() string {
	u := strings.TrimSuffix(strings.TrimSuffix(f.Per, "-hour"), "-month")
	if u == "hour" || u == "month" {
		return ""
	}
	return u
}

var perUnits = []string{"hour", "vCPU-hour", "GB-hour", "month", "GB-month"}

// DefaultTable returns the table embedded from prices.json.
func DefaultTable() (*Table, error) {
	t, err := ParseTable(pricesJSON)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", TableFile, err)
	}
	return t, nil
}

// ParseTable reads and checks a price table: every figure needs a positive price, a known
// unit, a date, an https source and the AWS pricing page it restates.
func ParseTable(data []byte) (*Table, error) {
	var t Table
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		return nil, fmt.Errorf("parse price table: %w", err)
	}
	var errs []string
	if t.HoursPerMonth <= 0 {
		errs = append(errs, "hoursPerMonth must be positive (AWS uses 730)")
	}
	if t.Currency == "" {
		errs = append(errs, "currency is missing")
	}
	if len(t.Regions) == 0 {
		errs = append(errs, "no regions")
	}
	for _, code := range sortedKeys(t.Regions) {
		r := t.Regions[code]
		if r.Name == "" {
			errs = append(errs, fmt.Sprintf("region %s: name is missing", code))
		}
		for _, key := range sortedKeys(r.Figures) {
			for _, e := range r.Figures[key].problems() {
				errs = append(errs, fmt.Sprintf("region %s, figure %s: %s", code, key, e))
			}
		}
	}
	for typ := range t.PayPerUse {
		if slices.Contains(t.NoCharge, typ) {
			errs = append(errs, fmt.Sprintf("%s is both pay-per-use and no-charge", typ))
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("invalid price table:\n  %s", strings.Join(errs, "\n  "))
	}
	return &t, nil
}

func (f Figure) problems() []string {
	var p []string
	if f.USD <= 0 {
		p = append(p, fmt.Sprintf("usd %v is not a positive price", f.USD))
	}
	if !slices.Contains(perUnits, f.Per) {
		p = append(p, fmt.Sprintf("per %q is not one of %s", f.Per, strings.Join(perUnits, ", ")))
	}
	if _, err := time.Parse(time.DateOnly, f.Date); err != nil {
		p = append(p, fmt.Sprintf("date %q is not a YYYY-MM-DD date", f.Date))
	}
	if u, err := url.Parse(f.Source); err != nil || u.Scheme != "https" || u.Host == "" {
		p = append(p, fmt.Sprintf("source %q is not an https URL", f.Source))
	}
	if u, err := url.Parse(f.Page); err != nil || u.Scheme != "https" || u.Host != "aws.amazon.com" {
		p = append(p, fmt.Sprintf("page %q is not an AWS pricing page (https://aws.amazon.com/...)", f.Page))
	}
	if strings.TrimSpace(f.What) == "" || strings.TrimSpace(f.Quote) == "" {
		p = append(p, "what and quote must say what is priced and what the source says")
	}
	return p
}

// Prices returns the figures of one region, or an error naming the regions the table has.
func (t *Table) Prices(region string) (*Prices, error) {
	r, ok := t.Regions[region]
	if !ok {
		return nil, fmt.Errorf("the price table has no prices for region %q (it has %s): add that region's figures to %s, or price in one of those regions with -region",
			region, strings.Join(sortedKeys(t.Regions), ", "), TableFile)
	}
	return &Prices{Region: region, Name: r.Name, table: t, figures: r.Figures}, nil
}

// Prices are the figures of one region of a table.
type Prices struct {
	// Region is the region code, Name its name.
	Region, Name string
	table        *Table
	figures      map[string]Figure
}

// Figure returns the figure for key.
func (p *Prices) Figure(key string) (Figure, bool) {
	f, ok := p.figures[key]
	return f, ok
}

// DateRange returns the oldest and newest figure dates of the region.
func (p *Prices) DateRange() (oldest, newest string) {
	for _, f := range p.figures {
		if oldest == "" || f.Date < oldest {
			oldest = f.Date
		}
		if f.Date > newest {
			newest = f.Date
		}
	}
	return oldest, newest
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
