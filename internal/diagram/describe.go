package diagram

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// describe is the second line of a box: the kind of resource and the settings a reader of
// the architecture (or of its bill) wants to see. It reads only literal property values, so
// asset hashes and generated names never appear.
func (a *architecture) describe(n *node) string {
	r := n.res
	p := r.props
	var parts []string
	add := func(s string) {
		if s != "" {
			parts = append(parts, s)
		}
	}
	switch r.typ {
	case "AWS::EC2::VPC":
		add("VPC " + str(p, "CidrBlock"))
		azs := map[string]bool{}
		kinds := map[string]int{}
		nats, flowLogs := 0, 0
		for _, o := range a.owned(n.id) {
			switch o.typ {
			case "AWS::EC2::Subnet":
				az, _ := json.Marshal(o.props["AvailabilityZone"])
				azs[string(az)] = true
				k := strings.ToLower(tag(o.props, "aws-cdk:subnet-type"))
				if k == "" {
					k = "other"
				}
				kinds[k]++
			case "AWS::EC2::NatGateway":
				nats++
			case "AWS::EC2::FlowLog":
				flowLogs++
			}
		}
		if len(azs) > 0 {
			add(plural(len(azs), "AZ"))
		}
		var ks []string
		for _, k := range sortedKeys(boolKeys(kinds)) {
			ks = append(ks, fmt.Sprintf("%d %s", kinds[k], k))
		}
		if len(ks) > 0 {
			add(strings.Join(ks, " / ") + " subnets")
		}
		add(plural(nats, "NAT gateway"))
		if flowLogs > 0 {
			add("flow logs")
		}
	case "AWS::RDS::DBInstance", "AWS::RDS::DBCluster":
		add("RDS " + strings.TrimSpace(str(p, "Engine")+" "+str(p, "EngineVersion")))
		add(str(p, "DBInstanceClass"))
		if s := str(p, "AllocatedStorage"); s != "" {
			add(strings.TrimSpace(s + " GiB " + str(p, "StorageType")))
		}
		if r.typ == "AWS::RDS::DBInstance" {
			if p["MultiAZ"] == true {
				add("multi-AZ")
			} else {
				add("single-AZ")
			}
		}
		if s := str(p, "BackupRetentionPeriod"); s != "" {
			add(s + "-day backups")
		}
	case "AWS::SecretsManager::Secret":
		add("Secrets Manager secret")
	case "AWS::ElasticLoadBalancingV2::LoadBalancer":
		kind := map[string]string{"application": "ALB", "network": "NLB", "gateway": "GWLB"}[str(p, "Type")]
		if kind == "" {
			kind = "ALB"
		}
		scheme := str(p, "Scheme")
		if scheme == "" {
			scheme = "internet-facing"
		}
		add(kind + " " + scheme)
		var ls []string
		for _, o := range a.owned(n.id) {
			if o.typ == "AWS::ElasticLoadBalancingV2::Listener" {
				ls = append(ls, fmt.Sprintf("%s :%s", str(o.props, "Protocol"), str(o.props, "Port")))
			}
		}
		slices.Sort(ls)
		add(strings.Join(slices.Compact(ls), ", "))
	case "AWS::ECS::Service":
		lt := str(p, "LaunchType")
		if lt == "FARGATE" {
			lt = "Fargate"
		}
		add(strings.TrimSpace("ECS service " + lt))
		if c := str(p, "DesiredCount"); c != "" {
			count, _ := strconv.Atoi(c)
			add(plural(count, "task"))
		}
		for _, rf := range a.m.refs(r.stack, p["TaskDefinition"]) {
			td := a.m.resources[rf.to]
			if td.typ != "AWS::ECS::TaskDefinition" {
				continue
			}
			add(taskSize(td.props))
			defs, _ := td.props["ContainerDefinitions"].([]any)
			for _, d := range defs {
				if dm, ok := d.(map[string]any); ok {
					// Only a literal image: an asset image is a hash-named ECR URI.
					if img, ok := dm["Image"].(string); ok {
						add(img)
					}
				}
			}
		}
	case "AWS::IAM::Role":
		add("IAM role (ECS task role)")
	case "AWS::ApiGateway::RestApi":
		add("API Gateway REST API " + str(p, "Name"))
		var stages, methods []string
		for _, o := range a.owned(n.id) {
			switch o.typ {
			case "AWS::ApiGateway::Stage":
				s := "stage " + str(o.props, "StageName")
				if o.props["TracingEnabled"] == true {
					s += " (X-Ray tracing)"
				}
				stages = append(stages, s)
			case "AWS::ApiGateway::Method":
				integ, _ := o.props["Integration"].(map[string]any)
				if integ["Type"] == "MOCK" {
					continue // CORS preflight answers
				}
				methods = append(methods, str(o.props, "HttpMethod")+" "+a.apiPath(o))
			}
		}
		slices.Sort(stages)
		slices.Sort(methods)
		add(strings.Join(stages, ", "))
		add(strings.Join(methods, ", "))
	case "AWS::StepFunctions::StateMachine":
		t := str(p, "StateMachineType")
		if t == "" {
			t = "STANDARD"
		}
		add("Step Functions " + t)
		if tc, ok := p["TracingConfiguration"].(map[string]any); ok && tc["Enabled"] == true {
			add("X-Ray tracing")
		}
	case "AWS::Lambda::Function":
		arch := strings.Join(list(p["Architectures"]), ",")
		if arch == "" {
			arch = "x86_64"
		}
		add("Lambda " + str(p, "Runtime"))
		add(arch)
		if s := str(p, "MemorySize"); s != "" {
			add(s + " MB")
		}
		if tc, ok := p["TracingConfig"].(map[string]any); ok && tc["Mode"] == "Active" {
			add("X-Ray tracing")
		}
	case "AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable":
		add("DynamoDB")
		if str(p, "BillingMode") == "PAY_PER_REQUEST" {
			add("on-demand")
		} else {
			add("provisioned")
		}
		var keys []string
		ks, _ := p["KeySchema"].([]any)
		for _, k := range ks {
			if km, ok := k.(map[string]any); ok {
				keys = append(keys, str(km, "AttributeName"))
			}
		}
		if len(keys) > 0 {
			add("key " + strings.Join(keys, ", "))
		}
		raw, _ := json.Marshal(p)
		if strings.Contains(string(raw), `"PointInTimeRecoveryEnabled":true`) {
			add("PITR")
		}
	}
	return strings.Join(parts, " · ")
}

// taskSize renders an ECS task definition's CPU, memory and architecture.
func taskSize(p map[string]any) string {
	var parts []string
	if c, err := strconv.Atoi(str(p, "Cpu")); err == nil {
		parts = append(parts, strconv.FormatFloat(float64(c)/1024, 'f', -1, 64)+" vCPU")
	}
	if m, err := strconv.Atoi(str(p, "Memory")); err == nil {
		parts = append(parts, strconv.FormatFloat(float64(m)/1024, 'f', -1, 64)+" GiB")
	}
	if rp, ok := p["RuntimePlatform"].(map[string]any); ok {
		if arch := str(rp, "CpuArchitecture"); arch != "" {
			parts = append(parts, arch)
		}
	}
	return strings.Join(parts, " / ")
}

// plural renders "1 task", "2 tasks"; zero renders "0 tasks" so that a missing NAT gateway
// stays visible.
func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func boolKeys(m map[string]int) map[string]bool {
	out := map[string]bool{}
	for k := range m {
		out[k] = true
	}
	return out
}
