package broker

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

func TestQuiet(t *testing.T) {
	pk := slog.NewRecord(time.Time{}, slog.LevelWarn, "error processing packet", 0)
	pk.AddAttrs(slog.String("client", "c1"), slog.String("pk", "payload-bytes"))
	will := slog.NewRecord(time.Time{}, slog.LevelWarn, "error processing packet", 0)
	will.AddAttrs(slog.Any("error", packets.CodeDisconnectWillMessage), slog.String("client", "gw"))
	tests := []struct {
		name    string
		level   slog.Level // the logger's
		rec     slog.Record
		want    string // in the output; "" for nothing
		notWant string
	}{
		{"info dropped", slog.LevelInfo, slog.NewRecord(time.Time{}, slog.LevelInfo, "attached listener", 0), "", ""},
		{"warn kept", slog.LevelInfo, slog.NewRecord(time.Time{}, slog.LevelWarn, "client store quota reached", 0),
			`level=WARN msg="broker: client store quota reached"`, ""},
		{"info at debug", slog.LevelDebug, slog.NewRecord(time.Time{}, slog.LevelInfo, "attached listener", 0),
			`level=INFO msg="broker: attached listener"`, ""},
		{"nameless warn dropped", slog.LevelInfo, slog.NewRecord(time.Time{}, slog.LevelWarn, "", 0), "", ""},
		{"nameless warn at debug", slog.LevelDebug, slog.NewRecord(time.Time{}, slog.LevelWarn, "", 0),
			`level=DEBUG msg="broker: client session ended"`, ""},
		{"packet dropped", slog.LevelInfo, pk, "client=c1", "payload-bytes"},
		{"disconnect with will dropped", slog.LevelInfo, will, "", ""},
		{"disconnect with will at debug", slog.LevelDebug, will, `level=DEBUG msg="broker: error processing packet" error="disconnect with will message" client=gw`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			q := quiet{slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: tt.level})}
			if q.Enabled(context.Background(), tt.rec.Level) {
				if err := q.Handle(context.Background(), tt.rec); err != nil {
					t.Fatal(err)
				}
			}
			out := buf.String()
			if tt.want == "" && out != "" || !strings.Contains(out, tt.want) {
				t.Errorf("logged %q; want %q", out, tt.want)
			}
			if tt.notWant != "" && strings.Contains(out, tt.notWant) {
				t.Errorf("logged %q; want no %q", out, tt.notWant)
			}
		})
	}
}
