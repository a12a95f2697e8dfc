package tracing

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
)

func TestRecordNotificationWithoutTrace(t *testing.T) {
	sent := errors.New("smtp down")
	calls := 0
	err := RecordNotification(context.Background(), Notification{TaskToken: "t", ExamId: "e", IncidentId: "i"}, func(context.Context) error {
		calls++
		return sent
	})
	if calls != 1 || !errors.Is(err, sent) {
		t.Errorf("calls=%d err=%v, want send run once and its error returned", calls, err)
	}
}

func TestInstrument(t *testing.T) {
	var cfg aws.Config
	Instrument(&cfg)
	if len(cfg.APIOptions) == 0 {
		t.Error("Instrument added no middleware")
	}
}
