package workflow_test

import (
	"testing"

	"github.com/tracetest-aws/stepfunctions-cdk/constructs/internal/cdktest"
)

func TestMain(m *testing.M) { cdktest.Main(m) }
