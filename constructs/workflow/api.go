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
	methodThrottles := map[string]*awsapigateway.MethodDeploymentOptions{}
	for path, t := range map[string]*awsapigateway.ThrottleSettings{"/incident/POST": p.IncidentThrottling, "/exam/POST": p.ExamThrottling} {
		if t != nil {
			methodThrottles[path] = &awsapigateway.MethodDeploymentOptions{ThrottlingRateLimit: t.RateLimit, ThrottlingBurstLimit: t.BurstLimit}
		}
	}
	stage.MethodOptions = &methodThrottles
	w.checkExecutionBudget()
	allowHeaders := append(*awsapigateway.Cors_DEFAULT_HEADERS(), jsii.String(IdempotencyKeyHeader))
	restApi := awsapigateway.NewRestApi(w, jsii.String("Api"), &awsapigateway.RestApiProps{
		RestApiName:    p.ApiName,
		Description:    jsii.String("Plagiarism workflow: POST /incident starts it, POST /exam submits a score"),
		EndpointTypes:  &[]awsapigateway.EndpointType{awsapigateway.EndpointType_REGIONAL},
		CloudWatchRole: jsii.Bool(false),
		DeployOptions:  stage,
		// The preflight always answers without authorization (CDK sets it to NONE).
		DefaultMethodOptions: p.DefaultMethodOptions,
		DefaultCorsPreflightOptions: &awsapigateway.CorsOptions{
			AllowOrigins: jsii.Strings(*p.CorsAllowOrigin),
			AllowMethods: jsii.Strings("POST", "OPTIONS"),
			AllowHeaders: &allowHeaders,
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
			RequestTemplates:    &map[string]*string{"application/json": jsii.String(startExecutionTemplate(*w.sm.StateMachineArn()))},
			IntegrationResponses: &[]*awsapigateway.IntegrationResponse{
				{
					StatusCode:         jsii.String("200"),
					ResponseParameters: &corsParam,
					ResponseTemplates: &map[string]*string{"application/json": jsii.String(
						`{"executionArn": "$input.path('$.executionArn')", "startDate": $input.path('$.startDate')}`)},
				},
				{
					// Step Functions answers every client error with 400 and names it in
					// __type; the template picks the status the caller should see.
					StatusCode:         jsii.String("400"),
					SelectionPattern:   jsii.String(`4\d{2}`),
					ResponseParameters: &corsParam,
					ResponseTemplates:  &map[string]*string{"application/json": jsii.String(startExecutionErrorTemplate)},
				},
				{
					StatusCode:         jsii.String("500"),
					SelectionPattern:   jsii.String(`5\d{2}`),
					ResponseParameters: &corsParam,
					ResponseTemplates: &map[string]*string{"application/json": jsii.String(
						`{"message": "the workflow could not be started"}`)},
				},
			},
		},
	})
	corsMethodParam := map[string]*bool{"method.response.header.Access-Control-Allow-Origin": jsii.Bool(true)}
	var incidentResponses []*awsapigateway.MethodResponse
	for _, code := range []string{"200", "400", "409", "429", "500"} {
		incidentResponses = append(incidentResponses, &awsapigateway.MethodResponse{StatusCode: jsii.String(code), ResponseParameters: &corsMethodParam})
	}
	incident := restApi.Root().AddResource(jsii.String("incident"), nil).AddMethod(jsii.String("POST"), start, &awsapigateway.MethodOptions{
		RequestValidator: validator,
		RequestModels: &map[string]awsapigateway.IModel{
			"application/json": awsapigateway.Model_FromModelName(w, jsii.String("IncidentModelRef"), model.Ref()),
		},
		RequestParameters: &map[string]*bool{"method.request.header." + IdempotencyKeyHeader: jsii.Bool(false)},
		MethodResponses:   &incidentResponses,
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
		w.suppressAuthorization(m)
	}

	u := fmt.Sprintf("https://%s.execute-api.%s.%s/%s", *restApi.RestApiId(), *stack.Region(), *stack.UrlSuffix(), *p.StageName)
	return restApi, jsii.String(u)
}

// IdempotencyKeyHeader is the request header that makes POST /incident idempotent: the
// execution is named after it, so a client's retry with the same key and body gets the
// same execution (Step Functions answers a Standard StartExecution with the same name and
// input as a running execution with that execution), and the same key with another body
// gets 409. Without it, the execution is named after the API request id. Keys are 1 to 80
// letters, digits, hyphens and underscores (a UUID, say), shared by all clients.
const IdempotencyKeyHeader = "Idempotency-Key"

// startExecutionTemplate maps POST /incident to StartExecution. API Gateway's
// $input.params looks header names up as sent, so both spellings are tried (HTTP/2
// clients send lower case). An invalid key becomes a name Step Functions refuses
// (InvalidName, answered 400), so no execution starts with it.
func startExecutionTemplate(stateMachineArn string) string {
	return `#set($key = $input.params('` + IdempotencyKeyHeader + `'))
#if("$!key" == "")#set($key = $input.params('idempotency-key'))#end
#if("$!key" == "")
#set($name = $context.requestId)
#elseif($key.matches('^[A-Za-z0-9_-]{1,80}$'))
#set($name = $key)
#else
#set($name = 'invalid Idempotency-Key')
#end
## escapeJavaScript also escapes ' as \', which is not JSON: undo that.
{"input": "$util.escapeJavaScript($input.json('$')).replaceAll("\\'", "'")", "name": "$name", "stateMachineArn": "` + stateMachineArn + `"}`
}

// startExecutionErrorTemplate answers Step Functions' client errors: a known execution
// name with another input (or a finished execution) is a conflict, throttling and the
// open-execution quota are 429, a bad key or input is 400; anything else (access denied,
// a missing state machine) is this deployment's fault, 500.
const startExecutionErrorTemplate = `#set($type = "$!input.path('$.__type')")
#if($type.contains('ExecutionAlreadyExists'))
#set($context.responseOverride.status = 409)
{"message": "an execution named by this Idempotency-Key exists with another body, or has finished: use a new key for a new incident"}
#elseif($type.contains('InvalidName'))
{"message": "Idempotency-Key must be 1 to 80 letters, digits, hyphens or underscores"}
#elseif($type.contains('InvalidExecutionInput'))
{"message": "the request body is not valid workflow input"}
#elseif($type.contains('Throttling') || $type.contains('ExecutionLimitExceeded'))
#set($context.responseOverride.status = 429)
{"message": "too many workflows are being started: retry later with the same Idempotency-Key"}
#else
#set($context.responseOverride.status = 500)
{"message": "the workflow could not be started"}
#end`

// suppressAuthorization tells cdk-nag why a method has no (Cognito) authorizer, given
// DefaultMethodOptions.
func (w *plagiarismStateMachine) suppressAuthorization(method constructs.IConstruct) {
	authType := awsapigateway.AuthorizationType_NONE
	apiKey := false
	if o := w.props.DefaultMethodOptions; o != nil {
		switch {
		case o.AuthorizationType != "":
			authType = o.AuthorizationType
		case o.Authorizer != nil:
			authType = o.Authorizer.AuthorizationType()
		}
		apiKey = o.ApiKeyRequired != nil && *o.ApiKeyRequired
	}
	switch authType {
	case awsapigateway.AuthorizationType_COGNITO:
	case awsapigateway.AuthorizationType_NONE:
		why := "public by design: Tracetest triggers the workflow without AWS credentials; bodies are validated and each method is throttled. " +
			"Give PlagiarismStateMachineProps.DefaultMethodOptions an authorizer to change that"
		if apiKey {
			why = "callers need an API key (DefaultMethodOptions.ApiKeyRequired) and each method is throttled; no authorizer"
		}
		nag.Suppress(method, "AwsSolutions-APIG4", why)
		nag.Suppress(method, "AwsSolutions-COG4", "no Cognito user pool: "+why)
	default:
		nag.Suppress(method, "AwsSolutions-COG4",
			fmt.Sprintf("authorized by %s (PlagiarismStateMachineProps.DefaultMethodOptions), not by a Cognito user pool", authType))
	}
}

// maxOpenExecutions is Step Functions' default quota of open Standard executions per
// account and region.
const maxOpenExecutions = 1_000_000

// checkExecutionBudget warns when POST /incident's throttle lets abusive callers open
// more executions than the account may have open: each waits up to the exam window.
func (w *plagiarismStateMachine) checkExecutionBudget() {
	rate := w.props.IncidentThrottling.RateLimit
	if !known(rate) {
		return
	}
	open := *rate * w.window.Seconds()
	if open > maxOpenExecutions {
		awscdk.Annotations_Of(w).AddWarningV2(jsii.String("workflow:executionBudget"), jsii.String(fmt.Sprintf(
			"POST /incident at %v requests/s can open %.0f executions a day, each waiting up to the exam window (%s): "+
				"%.0f open at once, more than the default quota of %d open Standard executions per account and region, "+
				"which every state machine in the account shares. Lower IncidentThrottling, shorten ExamWindow, or put an authorizer in front",
			*rate, *rate*86400, w.window, open, maxOpenExecutions)))
	}
}
