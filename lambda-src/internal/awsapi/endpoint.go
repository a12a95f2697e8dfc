package awsapi

import (
	"errors"
	"fmt"
	"strings"
)

// endpoint is where the client's calls go: AWS_ENDPOINT_URL_<SERVICE>, else
// AWS_ENDPOINT_URL, else the service's regional endpoint (its FIPS endpoint
// with AWS_USE_FIPS_ENDPOINT) in the region's partition.
func (c *Client) endpoint() (string, error) {
	if u := c.cfg.Endpoints[c.service.ID]; u != "" {
		return u, c.checkRegion()
	}
	if c.cfg.BaseEndpoint != "" {
		return c.cfg.BaseEndpoint, c.checkRegion()
	}
	if err := c.checkRegion(); err != nil {
		return "", err
	}
	host := c.service.EndpointPrefix
	if c.cfg.UseFIPS {
		host += "-fips"
	}
	return "https://" + host + "." + c.cfg.Region + "." + dnsSuffix(c.cfg.Region), nil
}

// checkRegion: every call is signed for the region, so it must be one.
func (c *Client) checkRegion() error {
	r := c.cfg.Region
	if r == "" {
		return errors.New("AWS_REGION is not set (Lambda sets it)")
	}
	for _, label := range strings.Split(r, "-") {
		if label == "" || strings.Trim(label, "abcdefghijklmnopqrstuvwxyz0123456789") != "" {
			return fmt.Errorf("AWS_REGION=%s: not a region name", r)
		}
	}
	return nil
}

// partitions are the DNS suffixes of the AWS partitions other than aws
// (amazonaws.com, also aws-us-gov's), by region name prefix.
var partitions = []struct{ prefix, suffix string }{
	{"cn-", "amazonaws.com.cn"},
	{"us-isob-", "sc2s.sgov.gov"},
	{"us-isof-", "csp.hci.ic.gov"},
	{"us-iso-", "c2s.ic.gov"},
	{"eu-isoe-", "cloud.adc-e.uk"},
	{"eusc-", "amazonaws.eu"},
}

func dnsSuffix(region string) string {
	for _, p := range partitions {
		if strings.HasPrefix(region, p.prefix) {
			return p.suffix
		}
	}
	return "amazonaws.com"
}
