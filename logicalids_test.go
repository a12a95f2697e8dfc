package main

import "testing"

// TestStatefulLogicalIDsArePinned guards construct IDs as a public contract: a changed
// logical ID makes CloudFormation replace the resource, losing its data (database, table,
// secret) or history (log groups) in every account that deploys this app or the
// constructs. Change an entry here only together with a documented migration.
func TestStatefulLogicalIDsArePinned(t *testing.T) {
	pinned := map[string]map[string]string{
		"Network": {
			"Vpc8378EB38":      "AWS::EC2::VPC",
			"FlowLogs16C1943A": "AWS::Logs::LogGroup",
		},
		"Data": {
			"DatabaseB269D8BB":   "AWS::RDS::DBInstance",
			"Parameters6795E5B4": "AWS::RDS::DBParameterGroup",
			"TracetestSfnDataDatabaseSecretC67C493Ad321368f3139e0a1d2b89fc2c4b77f73": "AWS::SecretsManager::Secret",
		},
		"Tracetest": {
			"TracetestLogs89A32795": "AWS::Logs::LogGroup",
		},
		"Workflow": {
			"PlagiarismTable56502E1C":                        "AWS::DynamoDB::GlobalTable",
			"PlagiarismStateMachineC74FC2EA":                 "AWS::StepFunctions::StateMachine",
			"PlagiarismStateMachineLogs5588A312":             "AWS::Logs::LogGroup",
			"PlagiarismApiAccessLogs788B86F3":                "AWS::Logs::LogGroup",
			"PlagiarismRegisterIncidentLogsEDB380CD":         "AWS::Logs::LogGroup",
			"PlagiarismScheduleExamLogs60111C10":             "AWS::Logs::LogGroup",
			"PlagiarismSendNotificationLogs64D5E68E":         "AWS::Logs::LogGroup",
			"PlagiarismSubmitExamLogs34F9392E":               "AWS::Logs::LogGroup",
			"PlagiarismResolveIncidentLogsFD212297":          "AWS::Logs::LogGroup",
			"PlagiarismTakeAdministrativeActionLogsA8F61FF0": "AWS::Logs::LogGroup",
		},
	}
	for part, ids := range pinned {
		res := synthed.templates[synthed.stacks.Config.StackName(part)]["Resources"].(map[string]any)
		for id, typ := range ids {
			r, ok := res[id].(map[string]any)
			if !ok || r["Type"] != typ {
				t.Errorf("%s: the %s with logical ID %s is gone: a renamed construct ID replaces it on the next deploy", part, typ, id)
			}
		}
	}
}
