package domain

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"unicode/utf8"
)

// MaxTaskTokenLength is the longest task token Step Functions accepts, in
// characters (its API's length constraint is 1 to 1024).
const MaxTaskTokenLength = 1024

// ValidateTaskToken checks that token could be a Step Functions task token:
// 1 to MaxTaskTokenLength characters.
func ValidateTaskToken(token string) error {
	switch n := utf8.RuneCountInString(token); {
	case n == 0:
		return &InvalidIncident{Field: "TaskToken", Reason: "must not be empty"}
	case n > MaxTaskTokenLength:
		return &InvalidIncident{Field: "TaskToken", Reason: fmt.Sprintf("has %d characters, Step Functions accepts at most %d", n, MaxTaskTokenLength)}
	}
	return nil
}

// TaskTokenDigest returns the hex SHA-256 of token. The incident stores the
// digest, never the token: whoever reads the table cannot resume an
// execution, yet a submission's token can be checked against it.
func TaskTokenDigest(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// digestsEqual compares two digests in constant time, so the time a refusal
// takes tells nothing about how much of a forged token matched.
func digestsEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
