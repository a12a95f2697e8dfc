package workflow

import (
	"encoding/json"
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/tracetest-aws/stepfunctions-cdk/api"
	"github.com/tracetest-aws/stepfunctions-cdk/constructs/internal/nag"
)

// newApi creates the REST API: POST /incident starts an execution directly (service
// integration, no Lambda), POST /exam calls SubmitExam.
func (w *plagiarismStateMachine) newApi() (awsapigateway.RestApi, *string) {
	p := w.props
	stack := awscdk.Stack_Of(w)
	origin := "'" + *p.CorsAllowOrigin + "'"
	accessLogs := w.newLogGroup("Api")
	stage := &awsapigateway.StageOptions{
		StageName:            p.StageName,
		TracingEnabled:       jsii.Bool(true),
		MetricsEnabled:       jsii.Bool(true),
		ThrottlingRateLimit:  p.ThrottlingRateLimit,
		ThrottlingBurstLimit: p.ThrottlingBurstLimit,
		AccessLogDestination: awsapigateway.NewLogGroupLogDestination(accessLogs),
		AccessLogFormat: awsapigateway.AccessLogFormat_JsonWithStandardFields(&awsapigateway.JsonWithStandardFieldProps{
			Caller: jsii.Bool(false), HttpMethod: jsii.Bool(true), Ip: jsii.Bool(true), Protocol: jsii.Bool(true),
			RequestTime: jsii.Bool(true), ResourcePath: jsii.Bool(true), ResponseLength: jsii.Bool(true),
			Status: jsii.Bool(true), User: jsii.Bool(false),
		}),
	}
	if p.LoggingLevel != "" {
		stage.LoggingLevel = p.LoggingLevel
	}
	restApi := awsapigateway.NewRestApi(w, jsii.String("Api"), &awsapigateway.RestApiProps{
		RestApiName:    p.ApiName,
		Description:    jsii.String("Plagiarism workflow: POST /incident starts it, POST /exam submits a score"),
		EndpointTypes:  &[]awsapigateway.EndpointType{awsapigateway.EndpointType_REGIONAL},
		CloudWatchRole: jsii.Bool(false),
		DeployOptions:  stage,
		DefaultCorsPreflightOptions: &awsapigateway.CorsOptions{
			AllowOrigins: jsii.Strings(*p.CorsAllowOrigin),
			AllowMethods: jsii.Strings("POST", "OPTIONS"),
			AllowHeaders: awsapigateway.Cors_DEFAULT_HEADERS(),
		},
	})
	// The stack outputs the stage URL itself (without the trailing slash).
	restApi.Node().TryRemoveChild(jsii.String("Endpoint"))
	if p.LoggingLevel == "" {
		nag.Suppress(restApi.DeploymentStage(), "AwsSolutions-APIG6",
			"execution logging needs the account-wide API Gateway CloudWatch role (a singleton shared by every API in the account); "+
				"the stage has access logs, X-Ray tracing and metrics. Turn it on with PlagiarismStateMachineProps.LoggingLevel")
	}
	corsHeader := map[string]*string{"Access-Control-Allow-Origin": jsii.String(origin)}
	// Errors API Gateway answers itself (bad body, throttling, 5xx) carry CORS headers and
	// a JSON message too.
	restApi.AddGatewayResponse(jsii.String("BadRequestBody"), &awsapigateway.GatewayResponseOptions{
		Type:            awsapigateway.ResponseType_BAD_REQUEST_BODY(),
		ResponseHeaders: &corsHeader,
		Templates:       &map[string]*string{"application/json": jsii.String(`{"message": "` + api.IncidentValidationMessage + `"}`)},
	})
	for _, r := range []struct {
		id  string
		typ awsapigateway.ResponseType
	}{{"Default4xx", awsapigateway.ResponseType_DEFAULT_4XX()}, {"Default5xx", awsapigateway.ResponseType_DEFAULT_5XX()}} {
		restApi.AddGatewayResponse(jsii.String(r.id), &awsapigateway.GatewayResponseOptions{
			Type:            r.typ,
			ResponseHeaders: &corsHeader,
			Templates:       &map[string]*string{"application/json": jsii.String(`{"message": $context.error.messageString}`)},
		})
	}

	// POST /incident -> states:StartExecution, validated against the model first.
	var schema map[string]any
	if err := json.Unmarshal([]byte(api.IncidentSchema()), &schema); err != nil {
		panic(fmt.Errorf("workflow.PlagiarismStateMachine: api/%s: %w", api.IncidentSchemaFile, err))
	}
	model := awsapigateway.NewCfnModel(w, jsii.String("IncidentModel"), &awsapigateway.CfnModelProps{
		RestApiId:   restApi.RestApiId(),
		ContentType: jsii.String("application/json"),
		Name:        jsii.String(api.IncidentModelName),
		Description: jsii.String("POST /incident body"),
		Schema:      schema,
	})
	validator := restApi.AddRequestValidator(jsii.String("BodyValidator"), &awsapigateway.RequestValidatorOptions{
		ValidateRequestBody:       jsii.Bool(true),
		ValidateRequestParameters: jsii.Bool(true),
	})
	startRole := awsiam.NewRole(w, jsii.String("ApiStartExecutionRole"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("apigateway.amazonaws.com"), nil),
		Description: jsii.String("API Gateway: start executions of the plagiarism state machine"),
	})
	w.startRole = startRole
	w.sm.GrantStartExecution(startRole)
	corsParam := map[string]*string{"method.response.header.Access-Control-Allow-Origin": jsii.String(origin)}
	start := awsapigateway.NewAwsIntegration(&awsapigateway.AwsIntegrationProps{
		Service:               jsii.String("states"),
		Action:                jsii.String("StartExecution"),
		IntegrationHttpMethod: jsii.String("POST"),
		Options: &awsapigateway.IntegrationOptions{
			CredentialsRole:     startRole,
			PassthroughBehavior: awsapigateway.PassthroughBehavior_NEVER,
			RequestTemplates: &map[string]*string{"application/json": jsii.String(
				// escapeJavaScript also escapes ' as \', which is not JSON: undo that.
				`{"input": "$util.escapeJavaScript($input.json('$')).replaceAll("\\'", "'")", ` +
					`"name": "$context.requestId", "stateMachineArn": "` + *w.sm.StateMachineArn() + `"}`)},
			IntegrationResponses: &[]*awsapigateway.IntegrationResponse{
				{
					StatusCode:         jsii.String("200"),
					ResponseParameters: &corsParam,
					ResponseTemplates: &map[string]*string{"application/json": jsii.String(
						`{"executionArn": "$input.path('$.executionArn')", "startDate": $input.path('$.startDate')}`)},
				},
				{
					StatusCode:         jsii.String("500"),
					SelectionPattern:   jsii.String(`[45]\d{2}`),
					ResponseParameters: &corsParam,
					ResponseTemplates: &map[string]*string{"application/json": jsii.String(
						`{"message": "the workflow could not be started"}`)},
				},
			},
		},
	})
	corsMethodParam := map[string]*bool{"method.response.header.Access-Control-Allow-Origin": jsii.Bool(true)}
	incident := restApi.Root().AddResource(jsii.String("incident"), nil).AddMethod(jsii.String("POST"), start, &awsapigateway.MethodOptions{
		RequestValidator: validator,
		RequestModels: &map[string]awsapigateway.IModel{
			"application/json": awsapigateway.Model_FromModelName(w, jsii.String("IncidentModelRef"), model.Ref()),
		},
		MethodResponses: &[]*awsapigateway.MethodResponse{
			{StatusCode: jsii.String("200"), ResponseParameters: &corsMethodParam},
			{StatusCode: jsii.String("500"), ResponseParameters: &corsMethodParam},
		},
	})

	// POST /exam -> SubmitExam, which validates and answers with CORS headers itself.
	exam := restApi.Root().AddResource(jsii.String("exam"), nil).AddMethod(jsii.String("POST"),
		awsapigateway.NewLambdaIntegration(w.fns.SubmitExam, nil), nil)
	// The permissions API Gateway gets to invoke SubmitExam name this account too, not only
	// the API's ARN (Control Tower rule CT.LAMBDA.PR.2).
	for _, child := range *exam.Node().Children() {
		if *awscdk.CfnResource_IsCfnResource(child) {
			if res := child.(awscdk.CfnResource); *res.CfnResourceType() == "AWS::Lambda::Permission" {
				res.AddPropertyOverride(jsii.String("SourceAccount"), stack.Account())
			}
		}
	}
	for _, m := range []constructs.IConstruct{incident, exam} {
		nag.Suppress(m, "AwsSolutions-APIG4",
			"public by design: Tracetest triggers the workflow without AWS credentials; bodies are validated and the stage is throttled")
		nag.Suppress(m, "AwsSolutions-COG4",
			"public by design: no Cognito user pool, for the same reason as APIG4")
	}

	u := fmt.Sprintf("https://%s.execute-api.%s.%s/%s", *restApi.RestApiId(), *stack.Region(), *stack.UrlSuffix(), *p.StageName)
	return restApi, jsii.String(u)
}
