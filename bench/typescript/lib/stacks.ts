// The four stacks of the Go app (app.go, internal/stacks, constructs/tracing,
// constructs/workflow), written as a TypeScript CDK app would write them. Only the synth
// cost is compared, so the resources, their properties and the cdk-nag suppressions are
// mirrored, but the Go constructs' prop validation and their optional features
// (certificate, OIDC, bring-your-own VPC/cluster/table, notification modes) are not.
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  Annotations, CfnOutput, Duration, Fn, RemovalPolicy, Stack, StackProps, Token,
  aws_apigateway as apigw,
  aws_cloudwatch as cloudwatch,
  aws_dynamodb as dynamodb,
  aws_ec2 as ec2,
  aws_ecs as ecs,
  aws_elasticloadbalancingv2 as elbv2,
  aws_iam as iam,
  aws_lambda as lambda,
  aws_logs as logs,
  aws_rds as rds,
  aws_secretsmanager as secretsmanager,
  aws_stepfunctions as sfn,
} from 'aws-cdk-lib';
import { NagSuppressions } from 'cdk-nag';
import { Construct, IConstruct } from 'constructs';

/** The repository root: the definition and the request model are read from there, as the Go app embeds them. */
const repoRoot = path.resolve(__dirname, '..', '..', '..');

const xrayWriteReason = 'X-Ray PutTraceSegments/PutTelemetryRecords (and the sampling reads) have no resource-level permissions: AWS requires Resource "*"';
const passwordExcludeCharacters = ' !"#$%&\'()*+,/:;<=>?@[\\]^`{|}~';
const tracetestPort = 11633;
const databasePort = 5433;

/** suppress records why rule does not apply to c's CloudFormation resource (constructs/internal/nag). */
function suppress(c: IConstruct, id: string, reason: string, appliesTo?: string[]) {
  const target = c.node.defaultChild ?? c;
  NagSuppressions.addResourceSuppressions(target, [{ id, reason, appliesTo }]);
}

export interface NetworkStackProps extends StackProps {
  natGateways: number;
}

export class NetworkStack extends Stack {
  readonly vpc: ec2.Vpc;

  constructor(scope: Construct, id: string, props: NetworkStackProps) {
    super(scope, id, props);
    const flowLogs = new logs.LogGroup(this, 'FlowLogs', {
      retention: logs.RetentionDays.ONE_YEAR,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr('10.40.0.0/16'),
      maxAzs: 2,
      natGateways: props.natGateways,
      subnetConfiguration: [
        { name: 'Public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24, mapPublicIpOnLaunch: false },
        { name: 'Private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
        { name: 'Isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
      ],
      restrictDefaultSecurityGroup: true,
      flowLogs: {
        All: { destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogs), trafficType: ec2.FlowLogTrafficType.ALL },
      },
    });
    if (props.natGateways === 0) {
      Annotations.of(this.vpc).addWarningV2('tracetest:noNatGateway', 'natGateways is 0: Fargate tasks in the private subnets cannot reach the internet');
    }
  }
}

export interface DataStackProps extends StackProps {
  vpc: ec2.IVpc;
  instanceType: string;
  deletionProtection: boolean;
  removalPolicy: RemovalPolicy;
  backupRetentionDays: number;
}

export class DataStack extends Stack {
  readonly database: rds.DatabaseInstance;
  readonly secret: secretsmanager.ISecret;

  constructor(scope: Construct, id: string, props: DataStackProps) {
    super(scope, id, props);
    const engine = rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_17_9 });
    const parameterGroup = new rds.ParameterGroup(this, 'Parameters', {
      engine,
      description: 'Tracetest Postgres: TLS only, connection logging',
      parameters: { 'rds.force_ssl': '1', log_connections: '1', log_disconnections: '1' },
    });
    const db = new rds.DatabaseInstance(this, 'Database', {
      engine,
      instanceType: new ec2.InstanceType(props.instanceType),
      vpc: props.vpc,
      vpcSubnets: { subnetGroupName: 'Isolated' },
      databaseName: 'tracetest',
      port: databasePort,
      credentials: rds.Credentials.fromGeneratedSecret('tracetest', { excludeCharacters: passwordExcludeCharacters }),
      parameterGroup,
      storageEncrypted: true,
      storageType: rds.StorageType.GP3,
      allocatedStorage: 20,
      maxAllocatedStorage: 100,
      backupRetention: Duration.days(props.backupRetentionDays),
      preferredBackupWindow: '03:00-04:00',
      preferredMaintenanceWindow: 'sun:04:30-sun:05:30',
      deletionProtection: props.deletionProtection,
      removalPolicy: props.removalPolicy,
      autoMinorVersionUpgrade: true,
      copyTagsToSnapshot: true,
      cloudwatchLogsExports: ['postgresql', 'upgrade'],
      iamAuthentication: true,
      enablePerformanceInsights: false,
      publiclyAccessible: false,
      multiAz: false,
    });
    if (!props.deletionProtection) {
      suppress(db, 'AwsSolutions-RDS10', 'deletion protection turned off on purpose by the context key dbDeletionProtection=false');
    }
    suppress(db, 'AwsSolutions-RDS3', 'single-AZ by design: the database holds Tracetest test runs, which can be re-run');
    suppress(db.node.findChild('Secret'), 'AwsSolutions-SMG4', 'not rotated automatically: Tracetest reads the password once at start');
    this.database = db;
    this.secret = db.secret!;
  }
}

export interface TracetestStackProps extends StackProps {
  vpc: ec2.IVpc;
  database: rds.IDatabaseInstance;
  databaseSecret: secretsmanager.ISecret;
  allowedCidrs: string[];
}

/** provisioning is the multi-document YAML of constructs/tracing's XRayDataStore with its defaults. */
function provisioning(region: string): string {
  return [
    '---\ntype: DataStore\nspec:\n  id: current\n  name: AWS X-Ray\n  type: awsxray\n  default: true\n',
    `  awsxray:\n    region: ${region}\n    useDefaultAuth: true\n`,
    '---\ntype: PollingProfile\nspec:\n  id: current\n  name: X-Ray\n  default: true\n  strategy: periodic\n',
    '  periodic:\n    retryDelay: 5s\n    timeout: 120s\n    selectorMatchRetries: 6\n',
    '---\ntype: Config\nspec:\n  id: current\n  name: Config\n  analyticsEnabled: false\n',
  ].join('');
}

export class TracetestStack extends Stack {
  constructor(scope: Construct, id: string, props: TracetestStackProps) {
    super(scope, id, props);
    const scopeTracetest = new Construct(this, 'Tracetest');

    const cluster = new ecs.Cluster(scopeTracetest, 'Cluster', {
      vpc: props.vpc,
      containerInsightsV2: ecs.ContainerInsights.ENABLED,
    });
    const logGroup = new logs.LogGroup(scopeTracetest, 'Logs', {
      retention: logs.RetentionDays.ONE_YEAR,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const taskDef = new ecs.FargateTaskDefinition(scopeTracetest, 'Task', {
      cpu: 1024,
      memoryLimitMiB: 2048,
      runtimePlatform: { cpuArchitecture: ecs.CpuArchitecture.ARM64, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
    });
    const endpoint = props.database.instanceEndpoint;
    taskDef.addContainer('tracetest', {
      image: ecs.ContainerImage.fromRegistry('kubeshop/tracetest:v1.7.1'),
      essential: true,
      memoryLimitMiB: 2048,
      portMappings: [{ containerPort: tracetestPort, protocol: ecs.Protocol.TCP, name: 'http' }],
      environment: {
        TRACETEST_POSTGRES_HOST: endpoint.hostname,
        TRACETEST_POSTGRES_PORT: Token.asString(endpoint.port),
        TRACETEST_POSTGRES_DBNAME: 'tracetest',
        TRACETEST_POSTGRES_PARAMS: 'sslmode=require',
        TRACETEST_PROVISIONING: Fn.base64(provisioning(Stack.of(this).region)),
      },
      secrets: {
        TRACETEST_POSTGRES_USER: ecs.Secret.fromSecretsManager(props.databaseSecret, 'username'),
        TRACETEST_POSTGRES_PASSWORD: ecs.Secret.fromSecretsManager(props.databaseSecret, 'password'),
      },
      healthCheck: {
        command: ['CMD-SHELL', `wget -q -O /dev/null http://127.0.0.1:${tracetestPort}/api/version.json || exit 1`],
        interval: Duration.seconds(30),
        timeout: Duration.seconds(5),
        retries: 3,
        startPeriod: Duration.seconds(120),
      },
      logging: ecs.LogDriver.awsLogs({ logGroup, streamPrefix: 'tracetest' }),
      readonlyRootFilesystem: false,
    });
    // XRayDataStore.GrantRead: a policy of its own that carries the suppression of its "*".
    const xrayRead = new iam.Policy(taskDef.taskRole as iam.Role, 'TracetestXRayRead');
    xrayRead.attachToRole(taskDef.taskRole);
    xrayRead.addStatements(new iam.PolicyStatement({ actions: ['xray:BatchGetTraces'], resources: ['*'] }));
    suppress(xrayRead, 'AwsSolutions-IAM5', 'xray:BatchGetTraces has no resource-level permissions', ['Resource::*']);
    suppress(taskDef, 'AwsSolutions-ECS2', 'the environment holds only non-secret settings');

    const serviceSG = new ec2.SecurityGroup(scopeTracetest, 'ServiceSecurityGroup', {
      vpc: cluster.vpc,
      description: 'Tracetest tasks: ingress from the load balancer only',
      allowAllOutbound: false,
    });
    serviceSG.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS to AWS APIs and the image registry');
    const service = new ecs.FargateService(scopeTracetest, 'Service', {
      securityGroups: [serviceSG],
      cluster,
      taskDefinition: taskDef,
      assignPublicIp: false,
      healthCheckGracePeriod: Duration.minutes(3),
      circuitBreaker: { enable: true, rollback: true },
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
      enableExecuteCommand: false,
    });
    service.connections.allowTo(props.database, ec2.Port.tcp(Token.asNumber(endpoint.port)), 'Tracetest to Postgres');

    const lbSG = new ec2.SecurityGroup(scopeTracetest, 'LoadBalancerSecurityGroup', {
      vpc: cluster.vpc,
      description: 'Tracetest load balancer: ingress only from the allowed peers',
      allowAllOutbound: false,
    });
    const lb = new elbv2.ApplicationLoadBalancer(scopeTracetest, 'LoadBalancer', {
      vpc: cluster.vpc,
      internetFacing: true,
      securityGroup: lbSG,
      dropInvalidHeaderFields: true,
    });
    suppress(lb, 'AwsSolutions-ELB2', 'no access-log bucket given');
    const targets = new elbv2.ApplicationTargetGroup(scopeTracetest, 'Targets', {
      vpc: cluster.vpc,
      port: tracetestPort,
      protocol: elbv2.ApplicationProtocol.HTTP,
      targetType: elbv2.TargetType.IP,
      targets: [service],
      healthCheck: {
        path: '/api/version.json',
        healthyHttpCodes: '200',
        interval: Duration.seconds(15),
        timeout: Duration.seconds(5),
        healthyThresholdCount: 2,
        unhealthyThresholdCount: 3,
      },
      deregistrationDelay: Duration.seconds(30),
    });
    lb.addListener('Http', {
      port: tracetestPort,
      protocol: elbv2.ApplicationProtocol.HTTP,
      open: false,
      defaultAction: elbv2.ListenerAction.forward([targets]),
    });
    if (props.allowedCidrs.length === 0) {
      Annotations.of(scopeTracetest).addWarningV2('tracing:tracetestClosed', 'Tracetest accepts no traffic: no AllowedPeers are set.');
    }
    for (const cidr of props.allowedCidrs) {
      lbSG.addIngressRule(ec2.Peer.ipv4(cidr), ec2.Port.tcp(tracetestPort), `Tracetest from ${cidr}`);
    }

    new CfnOutput(this, 'TracetestUrl', {
      value: `http://${lb.loadBalancerDnsName}:${tracetestPort}`,
      description: 'Tracetest UI and API (tracetest configure --server-url <this>)',
    });
  }
}

/** The functions: id, directory under the assets directory, description. */
const functions = [
  ['RegisterIncident', 'registerincident', 'Validates a new plagiarism incident and assigns its id'],
  ['ScheduleExam', 'scheduleexam', 'Schedules the next exam of an incident (at most three)'],
  ['SendNotification', 'sendnotification', 'Tells the student where to take the exam; the workflow waits for the result'],
  ['SubmitExam', 'submitexam', 'POST /exam: records a score and resumes the workflow'],
  ['ResolveIncident', 'resolveincident', 'Marks an incident resolved'],
  ['TakeAdministrativeAction', 'takeadministrativeaction', 'Marks an incident as needing administrative action'],
] as const;

type FunctionId = (typeof functions)[number][0];

export interface WorkflowStackProps extends StackProps {
  /** lambdaAssets holds <function>/bootstrap for every function (constructs/workflow.CodeFromDirectory's layout). */
  lambdaAssets: string;
}

export class WorkflowStack extends Stack {
  constructor(scope: Construct, id: string, props: WorkflowStackProps) {
    super(scope, id, props);
    const w = new Construct(this, 'Plagiarism');
    const logGroup = (name: string) => new logs.LogGroup(w, name, {
      retention: logs.RetentionDays.ONE_YEAR,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    const table = new dynamodb.TableV2(w, 'Table', {
      partitionKey: { name: 'IncidentId', type: dynamodb.AttributeType.STRING },
      billing: dynamodb.Billing.onDemand(),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: RemovalPolicy.RETAIN,
    });

    const fns = {} as Record<FunctionId, lambda.Function>;
    const env: Record<FunctionId, Record<string, string>> = {
      RegisterIncident: {},
      ScheduleExam: { TABLE_NAME: table.tableName, EXAM_WINDOW: '604800s' },
      SendNotification: { TABLE_NAME: table.tableName, NOTIFICATION_MODE: 'log', TRACE_TASK_TOKEN: 'true' },
      SubmitExam: { TABLE_NAME: table.tableName, CORS_ALLOW_ORIGIN: '*' },
      ResolveIncident: { TABLE_NAME: table.tableName },
      TakeAdministrativeAction: { TABLE_NAME: table.tableName },
    };
    for (const [fid, dir, description] of functions) {
      const fnLogs = logGroup(`${fid}Logs`);
      const role = new iam.Role(w, `${fid}Role`, {
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
        description: `${fid} function of the plagiarism workflow`,
      });
      role.addToPrincipalPolicy(new iam.PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [fnLogs.logGroupArn],
      }));
      const fn = new lambda.Function(w, fid, {
        role,
        description,
        runtime: lambda.Runtime.PROVIDED_AL2023,
        architecture: lambda.Architecture.ARM_64,
        handler: 'bootstrap',
        code: lambda.Code.fromAsset(path.join(props.lambdaAssets, dir)),
        memorySize: 256,
        timeout: Duration.seconds(15),
        tracing: lambda.Tracing.ACTIVE,
        loggingFormat: lambda.LoggingFormat.JSON,
        logGroup: fnLogs,
        environment: env[fid],
      });
      suppress(role.node.findChild('DefaultPolicy'), 'AwsSolutions-IAM5', xrayWriteReason, ['Resource::*']);
      if (fid !== 'RegisterIncident') {
        table.grant(fn, 'dynamodb:GetItem', 'dynamodb:UpdateItem');
      }
      fns[fid] = fn;
    }

    const definition = fs.readFileSync(path.join(repoRoot, 'asl', 'plagiarism.asl.json'), 'utf8');
    const invoked = ['RegisterIncident', 'ScheduleExam', 'SendNotification', 'ResolveIncident', 'TakeAdministrativeAction'] as const;
    const sm = new sfn.StateMachine(w, 'StateMachine', {
      definitionBody: sfn.DefinitionBody.fromString(definition),
      definitionSubstitutions: Object.fromEntries(invoked.map((fid) => [`${fid}FunctionArn`, fns[fid].functionArn])),
      stateMachineType: sfn.StateMachineType.STANDARD,
      tracingEnabled: true,
      logs: { destination: logGroup('StateMachineLogs'), level: sfn.LogLevel.ALL, includeExecutionData: false },
    });
    sm.addToRolePolicy(new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: invoked.map((fid) => fns[fid].functionArn) }));
    suppress(sm.role.node.findChild('DefaultPolicy'), 'AwsSolutions-IAM5', xrayWriteReason, ['Resource::*']);
    sm.grant(fns.SubmitExam, 'states:SendTaskHeartbeat', 'states:SendTaskSuccess');

    // REST API: POST /incident -> states:StartExecution, POST /exam -> SubmitExam.
    const origin = "'*'";
    const accessLogs = logGroup('ApiAccessLogs');
    const api = new apigw.RestApi(w, 'Api', {
      restApiName: 'DevelopingWithStepFunctionsApi',
      description: 'Plagiarism workflow: POST /incident starts it, POST /exam submits a score',
      endpointTypes: [apigw.EndpointType.REGIONAL],
      cloudWatchRole: false,
      deployOptions: {
        stageName: 'v2',
        tracingEnabled: true,
        metricsEnabled: true,
        throttlingRateLimit: 10,
        throttlingBurstLimit: 20,
        accessLogDestination: new apigw.LogGroupLogDestination(accessLogs),
        accessLogFormat: apigw.AccessLogFormat.jsonWithStandardFields({
          caller: false, httpMethod: true, ip: true, protocol: true, requestTime: true,
          resourcePath: true, responseLength: true, status: true, user: false,
        }),
        methodOptions: { '/incident/POST': { throttlingRateLimit: 1, throttlingBurstLimit: 5 } },
      },
      defaultCorsPreflightOptions: {
        allowOrigins: ['*'],
        allowMethods: ['POST', 'OPTIONS'],
        allowHeaders: [...apigw.Cors.DEFAULT_HEADERS, 'Idempotency-Key'],
      },
    });
    api.node.tryRemoveChild('Endpoint');
    suppress(api.deploymentStage, 'AwsSolutions-APIG6', 'execution logging needs the account-wide API Gateway CloudWatch role');
    const corsHeader = { 'Access-Control-Allow-Origin': origin };
    api.addGatewayResponse('BadRequestBody', {
      type: apigw.ResponseType.BAD_REQUEST_BODY,
      responseHeaders: corsHeader,
      templates: { 'application/json': '{"message": "Invalid request body"}' },
    });
    for (const [rid, type] of [['Default4xx', apigw.ResponseType.DEFAULT_4XX], ['Default5xx', apigw.ResponseType.DEFAULT_5XX]] as const) {
      api.addGatewayResponse(rid, {
        type,
        responseHeaders: corsHeader,
        templates: { 'application/json': '{"message": $context.error.messageString}' },
      });
    }

    const schema = JSON.parse(fs.readFileSync(path.join(repoRoot, 'api', 'incident.schema.json'), 'utf8'));
    const model = new apigw.CfnModel(w, 'IncidentModel', {
      restApiId: api.restApiId,
      contentType: 'application/json',
      name: 'Incident',
      description: 'POST /incident body',
      schema,
    });
    const validator = api.addRequestValidator('BodyValidator', { validateRequestBody: true, validateRequestParameters: true });
    const startRole = new iam.Role(w, 'ApiStartExecutionRole', {
      assumedBy: new iam.ServicePrincipal('apigateway.amazonaws.com'),
      description: 'API Gateway: start executions of the plagiarism state machine',
    });
    sm.grantStartExecution(startRole);
    const corsParam = { 'method.response.header.Access-Control-Allow-Origin': origin };
    const start = new apigw.AwsIntegration({
      service: 'states',
      action: 'StartExecution',
      integrationHttpMethod: 'POST',
      options: {
        credentialsRole: startRole,
        passthroughBehavior: apigw.PassthroughBehavior.NEVER,
        requestTemplates: {
          'application/json': `{"input": "$util.escapeJavaScript($input.json('$'))", "name": "$context.requestId", "stateMachineArn": "${sm.stateMachineArn}"}`,
        },
        integrationResponses: [
          { statusCode: '200', responseParameters: corsParam, responseTemplates: { 'application/json': `{"executionArn": "$input.path('$.executionArn')", "startDate": $input.path('$.startDate')}` } },
          { statusCode: '400', selectionPattern: '4\\d{2}', responseParameters: corsParam, responseTemplates: { 'application/json': '{"message": "bad request"}' } },
          { statusCode: '500', selectionPattern: '5\\d{2}', responseParameters: corsParam, responseTemplates: { 'application/json': '{"message": "the workflow could not be started"}' } },
        ],
      },
    });
    const incident = api.root.addResource('incident').addMethod('POST', start, {
      requestValidator: validator,
      requestModels: { 'application/json': apigw.Model.fromModelName(w, 'IncidentModelRef', model.ref) },
      requestParameters: { 'method.request.header.Idempotency-Key': false },
      methodResponses: ['200', '400', '409', '429', '500'].map((statusCode) => ({
        statusCode,
        responseParameters: { 'method.response.header.Access-Control-Allow-Origin': true },
      })),
    });
    const exam = api.root.addResource('exam').addMethod('POST', new apigw.LambdaIntegration(fns.SubmitExam));
    for (const child of exam.node.children) {
      if (child instanceof lambda.CfnPermission) {
        child.addPropertyOverride('SourceAccount', Stack.of(this).account);
      }
    }
    for (const m of [incident, exam]) {
      suppress(m, 'AwsSolutions-APIG4', 'public by design: Tracetest triggers the workflow without AWS credentials');
      suppress(m, 'AwsSolutions-COG4', 'no Cognito user pool: public by design');
    }
    const url = `https://${api.restApiId}.execute-api.${this.region}.${this.urlSuffix}/v2`;
    fns.SendNotification.addEnvironment('SUBMIT_URL', `${url}/exam`);

    const period = Duration.minutes(5);
    const opts = { period, statistic: 'Sum' };
    new cloudwatch.Alarm(w, 'FailedExecutionsAlarm', {
      metric: new cloudwatch.MathExpression({
        expression: 'failed + timedOut + aborted',
        usingMetrics: { failed: sm.metricFailed(opts), timedOut: sm.metricTimedOut(opts), aborted: sm.metricAborted(opts) },
        label: 'Failed, timed-out and aborted executions',
        period,
      }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: 'A plagiarism workflow execution failed, timed out or was aborted',
    });

    new CfnOutput(this, 'StepFunctionsAPIUrl', { value: url, description: 'REST API stage URL: POST <this>/incident, POST <this>/exam' });
    new CfnOutput(this, 'StateMachineArn', { value: sm.stateMachineArn, description: 'Plagiarism state machine' });
  }
}
