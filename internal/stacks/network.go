package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// NetworkStackProps configures NewNetworkStack.
type NetworkStackProps struct {
	awscdk.StackProps
	// NatGateways is the number of NAT gateways (0 to 2). Default: 1.
	NatGateways int
}

// NetworkStack holds the VPC shared by the other stacks.
type NetworkStack struct {
	awscdk.Stack
	// Vpc spans two availability zones with public, private-with-egress and isolated
	// subnets. The load balancer goes in the public subnets, the Fargate tasks in the
	// private ones, the database in the isolated ones. The workflow's Lambdas run outside
	// the VPC: they reach only AWS APIs, and need no NAT gateway or endpoint for that.
	Vpc awsec2.Vpc
}

// Subnet group names, shared by the stacks that place resources in them.
const (
	PublicSubnets   = "Public"
	PrivateSubnets  = "Private"
	IsolatedSubnets = "Isolated"
)

// NewNetworkStack creates the VPC with flow logs and a closed default security group.
func NewNetworkStack(scope constructs.Construct, id string, props *NetworkStackProps) *NetworkStack {
	stack := awscdk.NewStack(scope, &id, &props.StackProps)

	flowLogs := awslogs.NewLogGroup(stack, jsii.String("FlowLogs"), &awslogs.LogGroupProps{
		Retention:     awslogs.RetentionDays_ONE_YEAR,
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	vpc := awsec2.NewVpc(stack, jsii.String("Vpc"), &awsec2.VpcProps{
		IpAddresses: awsec2.IpAddresses_Cidr(jsii.String("10.40.0.0/16")),
		MaxAzs:      jsii.Number(2),
		NatGateways: jsii.Number(props.NatGateways),
		SubnetConfiguration: &[]*awsec2.SubnetConfiguration{
			// Nothing here needs a public IP but the NAT gateways, which get Elastic IPs.
			{Name: jsii.String(PublicSubnets), SubnetType: awsec2.SubnetType_PUBLIC, CidrMask: jsii.Number(24), MapPublicIpOnLaunch: jsii.Bool(false)},
			{Name: jsii.String(PrivateSubnets), SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS, CidrMask: jsii.Number(20)},
			{Name: jsii.String(IsolatedSubnets), SubnetType: awsec2.SubnetType_PRIVATE_ISOLATED, CidrMask: jsii.Number(24)},
		},
		RestrictDefaultSecurityGroup: jsii.Bool(true),
		FlowLogs: &map[string]*awsec2.FlowLogOptions{
			"All": {
				Destination: awsec2.FlowLogDestination_ToCloudWatchLogs(flowLogs, nil),
				TrafficType: awsec2.FlowLogTrafficType_ALL,
			},
		},
	})
	if props.NatGateways == 0 {
		awscdk.Annotations_Of(vpc).AddWarningV2(jsii.String("tracetest:noNatGateway"), jsii.String(
			"natGateways is 0: Fargate tasks in the private subnets cannot reach the internet "+
				"(Docker Hub for the Tracetest image, AWS APIs); add VPC endpoints or set -c natGateways=1"))
	}
	return &NetworkStack{Stack: stack, Vpc: vpc}
}
