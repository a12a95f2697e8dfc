package cost

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
)

//go:embed upstream.json
var upstreamJSON []byte

// UpstreamStack is the stack name the upstream recipe's resources are priced under.
const UpstreamStack = "upstream recipe"

// Upstream is the upstream recipe's AWS resources as data (upstream.json): a template
// priced with the same rules and table as the synthesized stacks.
type Upstream struct {
	About  string `json:"about"`
	Source string `json:"source"`
	// Notes are the assumptions and differences the comparison states.
	Notes    []string       `json:"notes"`
	Template map[string]any `json:"template"`
}

// LoadUpstream returns the embedded description of the upstream recipe.
func LoadUpstream() (*Upstream, error) {
	var u Upstream
	dec := json.NewDecoder(bytes.NewReader(upstreamJSON))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&u); err != nil {
		return nil, fmt.Errorf("internal/cost/upstream.json: %w", err)
	}
	if _, err := templateResources(UpstreamStack, u.Template); err != nil {
		return nil, fmt.Errorf("internal/cost/upstream.json: %w", err)
	}
	return &u, nil
}

// Estimate prices the upstream recipe.
func (u *Upstream) Estimate(prices *Prices) (*Report, error) {
	return Estimate(map[string]map[string]any{UpstreamStack: u.Template}, prices)
}
