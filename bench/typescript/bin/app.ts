// The TypeScript twin of the Go app (../../app.go): the same four stacks, for the synth
// comparison of `make bench`. Run from the repository root, so the CDK CLI reads the root
// cdk.json and both apps get the same context and feature flags:
//
//   LAMBDA_ASSETS=<dir with <function>/bootstrap> cdk synth --app "node bench/typescript/bin/app.js" -o <out>
import * as fs from 'node:fs';
import * as path from 'node:path';
import { App, Aspects, RemovalPolicy } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { DataStack, NetworkStack, TracetestStack, WorkflowStack } from '../lib/stacks';

const lambdaAssets = process.env.LAMBDA_ASSETS ?? '';
if (lambdaAssets === '' || !fs.existsSync(path.join(lambdaAssets, 'registerincident', 'bootstrap'))) {
  throw new Error(`LAMBDA_ASSETS=${JSON.stringify(lambdaAssets)} must name a directory holding <function>/bootstrap for the six functions (bench/synth.sh links them from the Go synth with lambda-assets.mjs)`);
}

// The same App settings as appProps in app.go.
const app = new App({
  context: {
    'aws:cdk:disable-stack-trace': true,
    'aws:cdk:disable-creation-stack-traces': true,
    'aws:cdk:enable-path-metadata': true,
  },
  stackTraces: false,
  analyticsReporting: false,
});
const ctx = <T>(key: string, def: T): T => (app.node.tryGetContext(key) as T | undefined) ?? def;
const prefix = ctx('prefix', 'TracetestSfn');
const removal: Record<string, RemovalPolicy> = { snapshot: RemovalPolicy.SNAPSHOT, retain: RemovalPolicy.RETAIN, destroy: RemovalPolicy.DESTROY };

const network = new NetworkStack(app, `${prefix}-Network`, {
  description: 'Tracetest + Step Functions: VPC',
  natGateways: Number(ctx('natGateways', 1)),
});
const data = new DataStack(app, `${prefix}-Data`, {
  description: "Tracetest + Step Functions: Tracetest's Postgres database",
  vpc: network.vpc,
  instanceType: ctx('dbInstanceType', 't4g.micro'),
  deletionProtection: ctx('dbDeletionProtection', true),
  removalPolicy: removal[ctx('dbRemovalPolicy', 'snapshot')],
  backupRetentionDays: Number(ctx('dbBackupRetentionDays', 7)),
});
new TracetestStack(app, `${prefix}-Tracetest`, {
  description: 'Tracetest + Step Functions: Tracetest on Fargate with the X-Ray data store',
  vpc: network.vpc,
  database: data.database,
  databaseSecret: data.secret,
  allowedCidrs: ctx<string[]>('tracetestAllowedCidrs', []),
});
new WorkflowStack(app, `${prefix}-Workflow`, {
  description: 'Tracetest + Step Functions: the plagiarism workflow under test',
  lambdaAssets,
});

// internal/stacks/compliance.go
Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true, reportFormats: [], reports: false }));
app.synth();
