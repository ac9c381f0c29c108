package healthtest_test

import (
	"testing"

	"github.com/iot-hub/agent/agent/health/healthtest"
)

// TestParseCatches: the parser the tests rely on refuses what is not
// well-formed.
func TestParseCatches(t *testing.T) {
	const head = "# HELP iot_hub_agent_x_total X.\n# TYPE iot_hub_agent_x_total counter\n"
	const hist = "# HELP iot_hub_agent_h_seconds H.\n# TYPE iot_hub_agent_h_seconds histogram\n"
	tests := []struct{ name, text string }{
		{"undeclared sample", "iot_hub_agent_y 1\n"},
		{"sample of another family", head + "iot_hub_agent_y_total 1\n"},
		{"no TYPE", "# HELP iot_hub_agent_x_total X.\niot_hub_agent_x_total 1\n"},
		{"counter without _total", "# HELP iot_hub_agent_x X.\n# TYPE iot_hub_agent_x counter\n"},
		{"no prefix", "# HELP x_total X.\n# TYPE x_total counter\n"},
		{"bad value", head + "iot_hub_agent_x_total one\n"},
		{"unclosed label", head + "iot_hub_agent_x_total{a=\"b} 1\n"},
		{"duplicate series", head + "iot_hub_agent_x_total{a=\"b\"} 1\niot_hub_agent_x_total{a=\"b\"} 2\n"},
		{"no final newline", head + "iot_hub_agent_x_total 1"},
		{"buckets not cumulative", hist + "iot_hub_agent_h_seconds_bucket{le=\"1\"} 2\niot_hub_agent_h_seconds_bucket{le=\"+Inf\"} 1\n" +
			"iot_hub_agent_h_seconds_sum 1\niot_hub_agent_h_seconds_count 1\n"},
		{"no +Inf", hist + "iot_hub_agent_h_seconds_bucket{le=\"1\"} 1\niot_hub_agent_h_seconds_sum 1\niot_hub_agent_h_seconds_count 1\n"},
		{"+Inf is not _count", hist + "iot_hub_agent_h_seconds_bucket{le=\"+Inf\"} 1\niot_hub_agent_h_seconds_sum 1\niot_hub_agent_h_seconds_count 2\n"},
		{"no _sum", hist + "iot_hub_agent_h_seconds_bucket{le=\"+Inf\"} 1\niot_hub_agent_h_seconds_count 1\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := healthtest.Parse(tt.text); err == nil {
				t.Errorf("Parse(%q) = nil error; want one", tt.text)
			}
		})
	}
	good := head + "iot_hub_agent_x_total{a=\"q\\\"\\\\\\n\"} 3\n" + hist +
		"iot_hub_agent_h_seconds_bucket{le=\"0.5\"} 1\niot_hub_agent_h_seconds_bucket{le=\"+Inf\"} 2\n" +
		"iot_hub_agent_h_seconds_sum 1.5\niot_hub_agent_h_seconds_count 2\n"
	e, err := healthtest.Parse(good)
	if err != nil {
		t.Fatalf("Parse(%q) = %v; want nil", good, err)
	}
	if v, ok := e.Value("iot_hub_agent_x_total", "a", "q\"\\\n"); !ok || v != 3 {
		t.Errorf("value of the escaped label = %v, %v; want 3", v, ok)
	}
}
