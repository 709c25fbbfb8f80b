package main

import (
	"fmt"
	"io"

	"github.com/go-logr/logr"
	"github.com/go-logr/zapr"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/flashcatcloud/flashduty-runner-k8s/runner/config"
)

// newLogger builds a zap logger behind logr. logr's V(1) is debug.
func newLogger(c config.Log, w io.Writer) (logr.Logger, func(), error) {
	var level zapcore.Level
	if err := level.UnmarshalText([]byte(c.Level)); err != nil {
		return logr.Discard(), nil, fmt.Errorf("log.level: %w", err)
	}
	encCfg := zap.NewProductionEncoderConfig()
	encCfg.EncodeTime = zapcore.ISO8601TimeEncoder
	var enc zapcore.Encoder
	if c.Format == "json" {
		enc = zapcore.NewJSONEncoder(encCfg)
	} else {
		encCfg.EncodeLevel = zapcore.CapitalLevelEncoder
		enc = zapcore.NewConsoleEncoder(encCfg)
	}
	core := zapcore.NewCore(enc, zapcore.Lock(zapcore.AddSync(w)), level)
	z := zap.New(core, zap.ErrorOutput(zapcore.AddSync(w)))
	return zapr.NewLogger(z), func() { _ = z.Sync() }, nil
}
