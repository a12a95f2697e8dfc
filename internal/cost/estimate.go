package cost

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Category groups line items for comparisons (the upstream recipe, levers).
type Category string

// Categories of charges, in the order reports list them.
const (
	CatNAT      Category = "NAT gateways"
	CatIPv4     Category = "public IPv4 addresses"
	CatLB       Category = "load balancers"
	CatCompute  Category = "Fargate tasks"
	CatDatabase Category = "database"
	CatSecrets  Category = "secrets and keys"
	CatNetwork  Category = "VPC endpoints"
	CatMonitor  Category = "alarms"
)

var categoryOrder = []Category{CatNAT, CatIPv4, CatLB, CatCompute, CatDatabase, CatSecrets, CatNetwork, CatMonitor}

// Charge is what one resource costs for one line item over the report's period.
type Charge struct {
	// Stack, LogicalID and Type identify the resource; Resource is its construct path
	// without the stack (or its logical ID when the template has no path).
	Stack, LogicalID, Type, Resource string
	// Item is the line item ("NAT gateway"), Category its group.
	Item     string
	Category Category
	// Figure is the key of the price in the table; Quantity is in the figure's unit
	// (resources, vCPU, GB).
	Figure   string
	Quantity float64
	// Detail says how Quantity was derived ("1 task × 1 vCPU").
	Detail string
	// Cents is the cost over the report's period, rounded to the cent.
	Cents int64
}

// Entry is a resource that adds nothing to the total: billed by use only, or not priced.
type Entry struct {
	Stack, LogicalID, Type, Resource string
	// Reason says what it bills, or why it is not priced.
	Reason string
}

// Report is the idle cost of a set of stacks in one region.
type Report struct {
	// Prices are the figures used.
	Prices *Prices
	// Hours is the period priced: HoursPerMonth for a month.
	Hours float64
	// Stacks are the stack names, sorted.
	Stacks []string
	// Charges are sorted by stack, then logical ID, then item.
	Charges []Charge
	// Idle are resources billed by use only: $0 while idle.
	Idle []Entry
	// NotPriced are resources that may cost money but that the table or the rules do not
	// price. The total leaves them out.
	NotPriced []Entry
	// NoCharge counts, per stack and type, resources whose type has no charge of its own.
	NoCharge map[string]map[string]int
	// Retained are resources CloudFormation keeps when the stack is deleted (DeletionPolicy
	// Retain or Snapshot), for the levers.
	Retained []Retained
}

// Retained is a resource left behind by `cdk destroy`.
type Retained struct {
	Stack, LogicalID, Type, Resource, Policy string
	// SnapshotGB is the allocated storage of a database kept as a snapshot.
	SnapshotGB float64
}

// Estimate prices the resources of templates (stack name -> CloudFormation template) for a
// month.
func Estimate(templates map[string]map[string]any, prices *Prices) (*Report, error) {
	return EstimateHours(templates, prices, prices.table.HoursPerMonth)
}

// EstimateHours prices the resources of templates for a period of hours: hourly figures for
// that many hours, monthly figures prorated.
func EstimateHours(templates map[string]map[string]any, prices *Prices, hours float64) (*Report, error) {
	if hours <= 0 {
		return nil, fmt.Errorf("the period to price must be positive, not %v hours", hours)
	}
	r := &Report{Prices: prices, Hours: hours, Stacks: sortedKeys(templates), NoCharge: map[string]map[string]int{}}
	for _, stack := range r.Stacks {
		resources, err := templateResources(stack, templates[stack])
		if err != nil {
			return nil, err
		}
		e := &estimator{report: r, stack: stack, resources: resources}
		for _, id := range sortedKeys(resources) {
			e.resource(id, resources[id])
		}
	}
	return r, nil
}

// templateResources returns the Resources section of a template, checking its shape.
func templateResources(stack string, tpl map[string]any) (map[string]map[string]any, error) {
	out := map[string]map[string]any{}
	raw, ok := tpl["Resources"]
	if !ok {
		return out, nil
	}
	res, ok := raw.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("stack %s: Resources is not an object", stack)
	}
	for id, v := range res {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("stack %s: resource %s is not an object", stack, id)
		}
		if typ, _ := m["Type"].(string); typ == "" {
			return nil, fmt.Errorf("stack %s: resource %s has no Type", stack, id)
		}
		out[id] = m
	}
	return out, nil
}

type estimator struct {
	report    *Report
	stack     string
	resources map[string]map[string]any
}

// res is one resource being priced.
type res struct {
	id, typ, name, condition string
	props                    map[string]any
}

func (e *estimator) resource(id string, raw map[string]any) {
	r := res{id: id, typ: raw["Type"].(string), name: e.displayName(id, raw)}
	r.props, _ = raw["Properties"].(map[string]any)
	if r.props == nil {
		r.props = map[string]any{}
	}
	r.condition, _ = raw["Condition"].(string)
	if policy, _ := raw["DeletionPolicy"].(string); policy == "Retain" || policy == "RetainExceptOnCreate" || policy == "Snapshot" {
		kept := Retained{Stack: e.stack, LogicalID: id, Type: r.typ, Resource: r.name, Policy: policy}
		if policy == "Snapshot" && r.typ == "AWS::RDS::DBInstance" {
			kept.SnapshotGB, _ = number(r.props["AllocatedStorage"])
		}
		e.report.Retained = append(e.report.Retained, kept)
	}

	switch r.typ {
	case "AWS::EC2::NatGateway":
		e.natGateway(r)
	case "AWS::EC2::EIP":
		e.charge(r, "Elastic IP (public IPv4 address)", CatIPv4, "vpc.publicIpv4", 1, "")
	case "AWS::ElasticLoadBalancingV2::LoadBalancer":
		e.loadBalancer(r)
	case "AWS::ECS::Service":
		e.ecsService(r)
	case "AWS::RDS::DBInstance":
		e.dbInstance(r)
	case "AWS::SecretsManager::Secret":
		n := 1.0
		detail := ""
		if replicas, ok := r.props["ReplicaRegions"].([]any); ok && len(replicas) > 0 {
			n += float64(len(replicas))
			detail = fmt.Sprintf("1 secret + %d replicas", len(replicas))
		}
		e.charge(r, "Secrets Manager secret", CatSecrets, "secretsmanager.secret", n, detail)
	case "AWS::KMS::Key", "AWS::KMS::ReplicaKey":
		e.charge(r, "KMS customer managed key", CatSecrets, "kms.key", 1, "")
	case "AWS::CloudWatch::Alarm":
		e.alarm(r)
	case "AWS::EC2::VPCEndpoint":
		e.vpcEndpoint(r)
	case "AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable":
		e.dynamoTable(r)
	case "AWS::ApiGateway::Stage":
		if b, _ := boolean(r.props["CacheClusterEnabled"]); b {
			e.notPriced(r, "API cache cluster: billed per hour by cache size, not in the price table")
		} else {
			e.free(r)
		}
	case "AWS::Lambda::Version", "AWS::Lambda::Alias":
		if _, ok := r.props["ProvisionedConcurrencyConfig"]; ok {
			e.notPriced(r, "provisioned concurrency: billed per GB-second while configured, not in the price table")
		} else {
			e.free(r)
		}
	case "AWS::SSM::Parameter":
		if tier, _ := r.props["Tier"].(string); tier != "" && tier != "Standard" {
			e.notPriced(r, "SSM parameter tier "+tier+": billed per parameter-month, not in the price table")
		} else {
			e.free(r)
		}
	default:
		e.byTable(r)
	}
}

// byTable classifies a type the rules above do not know, from the table's lists.
func (e *estimator) byTable(r res) {
	t := e.report.Prices.table
	switch {
	case strings.HasPrefix(r.typ, "Custom::"):
		// A custom resource runs its provider function, which is a resource of its own.
		e.free(r)
	case slices.Contains(t.NoCharge, r.typ):
		e.free(r)
	case t.PayPerUse[r.typ] != "":
		e.idle(r, "billed by use: "+t.PayPerUse[r.typ])
	default:
		e.notPriced(r, "no pricing rule for this type: it may cost money while idle; see its AWS pricing page")
	}
}

func (e *estimator) natGateway(r res) {
	if mode, _ := r.props["AvailabilityMode"].(string); strings.EqualFold(mode, "regional") {
		e.notPriced(r, "regional NAT gateway: billed per active availability zone, not in the price table")
		return
	}
	item := "NAT gateway"
	if c, _ := r.props["ConnectivityType"].(string); c == "private" {
		item = "NAT gateway (private)"
	}
	e.charge(r, item, CatNAT, "ec2.natGateway", 1, "")
}

func (e *estimator) loadBalancer(r res) {
	typ := "application"
	if v, ok := r.props["Type"]; ok {
		s, ok := v.(string)
		if !ok {
			e.notPriced(r, "load balancer Type is not a literal in the template")
			return
		}
		typ = s
	}
	names := map[string]string{"application": "Application Load Balancer", "network": "Network Load Balancer", "gateway": "Gateway Load Balancer"}
	name := names[typ]
	if name == "" {
		name = typ + " load balancer"
	}
	if _, ok := e.report.Prices.Figure("elb." + typ); !ok {
		e.notPriced(r, fmt.Sprintf("%s: no price in the table for region %s", name, e.report.Prices.Region))
	} else {
		e.charge(r, name, CatLB, "elb."+typ, 1, "")
	}
	if typ == "gateway" {
		return
	}
	scheme := "internet-facing"
	if v, ok := r.props["Scheme"]; ok {
		s, ok := v.(string)
		if !ok {
			e.notPriced(r, "load balancer Scheme is not a literal: its public IPv4 addresses are not priced")
			return
		}
		scheme = s
	}
	if scheme == "internal" {
		return
	}
	if ip, _ := r.props["IpAddressType"].(string); ip == "dualstack-without-public-ipv4" {
		return
	}
	n, ok := 0, false
	if subnets, isList := r.props["Subnets"].([]any); isList {
		n, ok = len(subnets), true
	} else if mappings, isList := r.props["SubnetMappings"].([]any); isList {
		ok = true
		for _, m := range mappings {
			// A mapping with an Elastic IP uses that address, priced as the EIP resource.
			if mm, _ := m.(map[string]any); mm == nil || mm["AllocationId"] == nil {
				n++
			}
		}
	}
	if !ok {
		e.notPriced(r, "the load balancer's subnets are not a list in the template: its public IPv4 addresses (one per subnet) are not priced")
		return
	}
	if n > 0 {
		e.charge(r, "public IPv4 addresses of the load balancer (one per subnet)", CatIPv4, "vpc.publicIpv4", float64(n), fmt.Sprintf("%d subnets", n))
	}
}

func (e *estimator) ecsService(r res) {
	fargate := false
	if lt, ok := r.props["LaunchType"]; ok {
		s, _ := lt.(string)
		switch s {
		case "FARGATE":
			fargate = true
		case "EC2", "EXTERNAL":
			e.idle(r, "no charge of its own: its tasks run on "+strings.ToLower(s)+" instances of the cluster, priced where they are defined")
			return
		default:
			e.notPriced(r, "launch type is not a literal in the template")
			return
		}
	} else if strategy, ok := r.props["CapacityProviderStrategy"].([]any); ok && len(strategy) > 0 {
		for _, item := range strategy {
			m, _ := item.(map[string]any)
			p, _ := m["CapacityProvider"].(string)
			switch p {
			case "FARGATE":
				fargate = true
			case "FARGATE_SPOT":
				e.notPriced(r, "Fargate Spot: its price varies, not in the price table")
				return
			default:
				e.notPriced(r, "capacity provider "+quoteOr(p, "(not a literal)")+": its instances are not priced here")
				return
			}
		}
	}
	if !fargate {
		e.notPriced(r, "no launch type or capacity provider in the template: the cluster's default strategy applies, unknown here")
		return
	}
	count := 1.0 // CloudFormation's default for a REPLICA service
	if v, ok := r.props["DesiredCount"]; ok {
		n, isNum := number(v)
		if !isNum {
			e.notPriced(r, "DesiredCount is not a literal in the template")
			return
		}
		count = n
	}
	td := e.local(r.props["TaskDefinition"], "AWS::ECS::TaskDefinition")
	if td == nil {
		e.notPriced(r, "its task definition is not in this template (an ARN or an import): its size is unknown")
		return
	}
	tdProps, _ := td["Properties"].(map[string]any)
	vcpu, okCPU := fargateCPU(tdProps["Cpu"])
	mem, okMem := fargateMemory(tdProps["Memory"])
	if !okCPU || !okMem {
		e.notPriced(r, "its task definition has no literal task-level Cpu and Memory")
		return
	}
	arch, osFamily := "x86_64", "LINUX"
	if rp, ok := tdProps["RuntimePlatform"].(map[string]any); ok {
		if a, ok := rp["CpuArchitecture"].(string); ok && a == "ARM64" {
			arch = "arm64"
		}
		if o, ok := rp["OperatingSystemFamily"].(string); ok {
			osFamily = o
		}
	}
	if osFamily != "LINUX" {
		e.notPriced(r, "Fargate on "+osFamily+" (with its OS license fee) is not in the price table")
		return
	}
	if count == 0 {
		e.idle(r, "desired count 0: no task runs")
		return
	}
	platform := "Linux/" + map[string]string{"arm64": "ARM64", "x86_64": "x86_64"}[arch]
	tasks := plural(count, "task")
	e.charge(r, "Fargate vCPU ("+platform+")", CatCompute, "fargate.linux."+arch+".vcpu", count*vcpu,
		fmt.Sprintf("%s × %s vCPU", tasks, fmtQty(vcpu)))
	e.charge(r, "Fargate memory ("+platform+")", CatCompute, "fargate.linux."+arch+".memory", count*mem,
		fmt.Sprintf("%s × %s GB", tasks, fmtQty(mem)))
	if es, ok := tdProps["EphemeralStorage"].(map[string]any); ok {
		if size, ok := number(es["SizeInGiB"]); ok && size > 20 {
			e.charge(r, "Fargate ephemeral storage above 20 GB", CatCompute, "fargate.ephemeralStorage", count*(size-20),
				fmt.Sprintf("%s × %s GB", tasks, fmtQty(size-20)))
		}
	}
}

func (e *estimator) dbInstance(r res) {
	if _, ok := r.props["DBClusterIdentifier"]; ok {
		e.notPriced(r, "Aurora cluster instance: Aurora is not in the price table")
		return
	}
	engine, okE := r.props["Engine"].(string)
	class, okC := r.props["DBInstanceClass"].(string)
	if !okE || !okC {
		e.notPriced(r, "Engine or DBInstanceClass is not a literal in the template")
		return
	}
	engine = strings.ToLower(engine)
	multiAZ := false
	if v, ok := r.props["MultiAZ"]; ok {
		b, isBool := boolean(v)
		if !isBool {
			e.notPriced(r, "MultiAZ is not a literal in the template")
			return
		}
		multiAZ = b
	}
	deployment, label, copies := "single-az", "Single-AZ", 1.0
	if multiAZ {
		deployment, label, copies = "multi-az", "Multi-AZ", 2
	}
	key := fmt.Sprintf("rds.%s.%s.%s", engine, class, deployment)
	if _, ok := e.report.Prices.Figure(key); ok {
		// The class is a detail, not the item, so a change of class reads as one change.
		e.charge(r, "RDS instance", CatDatabase, key, 1, fmt.Sprintf("%s %s, %s", engine, class, label))
	} else {
		e.notPriced(r, fmt.Sprintf("no price for RDS %s %s %s in region %s in the price table (figure %s)", engine, class, label, e.report.Prices.Region, key))
	}

	storageType := "gp3" // the RDS API's default without Iops
	if _, ok := r.props["Iops"]; ok {
		storageType = "io1"
	}
	if v, ok := r.props["StorageType"]; ok {
		s, isStr := v.(string)
		if !isStr {
			e.notPriced(r, "StorageType is not a literal in the template: storage is not priced")
			return
		}
		storageType = s
	}
	gb, ok := number(r.props["AllocatedStorage"])
	if !ok {
		e.notPriced(r, "AllocatedStorage is not a literal in the template: storage is not priced")
	} else if _, has := e.report.Prices.Figure("rds.storage." + storageType); !has {
		e.notPriced(r, fmt.Sprintf("no price for RDS %s storage in region %s in the price table", storageType, e.report.Prices.Region))
	} else {
		detail := fmtQty(gb) + " GB"
		if copies > 1 {
			detail += " × 2 (Multi-AZ)"
		}
		if limit, ok := number(r.props["MaxAllocatedStorage"]); ok && limit > gb {
			detail += ", may grow to " + fmtQty(limit) + " GB"
		}
		e.charge(r, "RDS storage "+storageType, CatDatabase, "rds.storage."+storageType, gb*copies, detail)
		iops, _ := number(r.props["Iops"])
		throughput, _ := number(r.props["StorageThroughput"])
		if storageType == "io1" || storageType == "io2" || iops > 3000 || throughput > 125 {
			e.notPriced(r, "provisioned IOPS or throughput above the gp3 baseline: not in the price table")
		}
	}
	retention := 1.0 // the RDS API's default
	if v, ok := number(r.props["BackupRetentionPeriod"]); ok {
		retention = v
	}
	if retention > 0 {
		e.idle(r, fmt.Sprintf("automated backups (%s days): free up to the provisioned storage, which an idle database stays under", fmtQty(retention)))
	}
	if b, _ := boolean(r.props["ManageMasterUserPassword"]); b {
		e.charge(r, "Secrets Manager secret (RDS-managed master password)", CatSecrets, "secretsmanager.secret", 1, "")
	}
}

func (e *estimator) alarm(r res) {
	if _, ok := r.props["ThresholdMetricId"]; ok {
		e.notPriced(r, "anomaly detection alarm: billed per metric analysed, not in the price table")
		return
	}
	metrics := 1.0
	period, _ := number(r.props["Period"])
	if list, ok := r.props["Metrics"].([]any); ok {
		metrics = 0
		for _, m := range list {
			mm, _ := m.(map[string]any)
			if stat, ok := mm["MetricStat"].(map[string]any); ok {
				metrics++
				if p, ok := number(stat["Period"]); ok && (period == 0 || p < period) {
					period = p
				}
			}
		}
		metrics = math.Max(metrics, 1)
	}
	if period > 0 && period < 60 {
		e.charge(r, "CloudWatch alarm (high resolution)", CatMonitor, "cloudwatch.alarm.high", metrics, plural(metrics, "metric"))
		return
	}
	e.charge(r, "CloudWatch alarm (standard resolution)", CatMonitor, "cloudwatch.alarm.standard", metrics, plural(metrics, "metric"))
}

func (e *estimator) vpcEndpoint(r res) {
	typ, _ := r.props["VpcEndpointType"].(string)
	switch typ {
	case "", "Gateway":
		e.idle(r, "gateway endpoint (S3, DynamoDB): no charge")
	case "Interface":
		subnets, ok := r.props["SubnetIds"].([]any)
		if !ok {
			e.notPriced(r, "interface endpoint whose subnets are not a list in the template: billed per availability zone, count unknown")
			return
		}
		e.charge(r, "interface VPC endpoint", CatNetwork, "vpc.interfaceEndpoint", float64(len(subnets)), plural(float64(len(subnets)), "availability zone"))
	default:
		e.notPriced(r, typ+" endpoint: not in the price table")
	}
}

func (e *estimator) dynamoTable(r res) {
	mode, _ := r.props["BillingMode"].(string)
	if mode == "PAY_PER_REQUEST" {
		e.idle(r, "billed by use: "+e.report.Prices.table.PayPerUse[r.typ])
		return
	}
	e.notPriced(r, "provisioned capacity (the default billing mode): billed per capacity unit-hour, not in the price table")
}

// local returns the resource a {"Ref": id} in this template points to, if it has type typ.
func (e *estimator) local(v any, typ string) map[string]any {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return nil
	}
	id, _ := m["Ref"].(string)
	target := e.resources[id]
	if target == nil || target["Type"] != typ {
		return nil
	}
	return target
}

func (e *estimator) charge(r res, item string, cat Category, figure string, qty float64, detail string) {
	f, ok := e.report.Prices.Figure(figure)
	if !ok {
		e.notPriced(r, fmt.Sprintf("%s: no price in the table for region %s (figure %s)", item, e.report.Prices.Region, figure))
		return
	}
	if r.condition != "" {
		detail = strings.TrimPrefix(detail+"; only if condition "+r.condition+" holds", "; ")
	}
	e.report.Charges = append(e.report.Charges, Charge{
		Stack: e.stack, LogicalID: r.id, Type: r.typ, Resource: r.name,
		Item: item, Category: cat, Figure: figure, Quantity: qty, Detail: detail,
		Cents: cents(f, qty, e.report.Hours, e.report.Prices.table.HoursPerMonth),
	})
}

func (e *estimator) free(r res) {
	if e.report.NoCharge[e.stack] == nil {
		e.report.NoCharge[e.stack] = map[string]int{}
	}
	e.report.NoCharge[e.stack][r.typ]++
}

func (e *estimator) idle(r res, reason string) {
	e.report.Idle = append(e.report.Idle, Entry{Stack: e.stack, LogicalID: r.id, Type: r.typ, Resource: r.name, Reason: reason})
}

func (e *estimator) notPriced(r res, reason string) {
	e.report.NotPriced = append(e.report.NotPriced, Entry{Stack: e.stack, LogicalID: r.id, Type: r.typ, Resource: r.name, Reason: reason})
}

// displayName is the construct path without the stack and a trailing "/Resource", or the
// logical ID for templates not written by the CDK.
func (e *estimator) displayName(id string, raw map[string]any) string {
	md, _ := raw["Metadata"].(map[string]any)
	path, _ := md["aws:cdk:path"].(string)
	if path == "" {
		return id
	}
	path = strings.TrimPrefix(path, e.stack+"/")
	path = strings.TrimSuffix(path, "/Resource")
	return path
}

// cents is the cost of qty of f over hours, rounded to the cent.
func cents(f Figure, qty, hours, hoursPerMonth float64) int64 {
	usd := f.USD * qty
	if f.hourly() {
		usd *= hours
	} else {
		usd *= hours / hoursPerMonth
	}
	return int64(math.Round(usd * 100))
}

// number reads a literal number, also when CloudFormation holds it as a string ("20").
func number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		return f, err == nil
	}
	return 0, false
}

// boolean reads a literal boolean, also as "true"/"false".
func boolean(v any) (bool, bool) {
	switch x := v.(type) {
	case bool:
		return x, true
	case string:
		b, err := strconv.ParseBool(x)
		return b, err == nil
	}
	return false, false
}

// fargateCPU reads a task-level Cpu: CPU units ("1024") or "1 vCPU".
func fargateCPU(v any) (float64, bool) {
	if s, ok := v.(string); ok {
		if f, ok := strings.CutSuffix(strings.TrimSpace(strings.ToLower(s)), "vcpu"); ok {
			n, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
			return n, err == nil && n > 0
		}
	}
	n, ok := number(v)
	return n / 1024, ok && n > 0
}

// fargateMemory reads a task-level Memory: MiB ("2048") or "2 GB", in GB.
func fargateMemory(v any) (float64, bool) {
	if s, ok := v.(string); ok {
		if f, ok := strings.CutSuffix(strings.TrimSpace(strings.ToLower(s)), "gb"); ok {
			n, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
			return n, err == nil && n > 0
		}
	}
	n, ok := number(v)
	return n / 1024, ok && n > 0
}

func quoteOr(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

// plural writes "1 task", "2 tasks".
func plural(n float64, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmtQty(n) + " " + what + "s"
}

// fmtQty writes a quantity without trailing zeros: 1, 0.5, 20.
func fmtQty(q float64) string {
	return strconv.FormatFloat(q, 'f', -1, 64)
}
