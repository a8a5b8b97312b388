package enginefake_test

import (
	"github.com/mlenv/mlenv/internal/enginefake"
	"github.com/mlenv/mlenv/runner"
)

var _ runner.Client = enginefake.New()
