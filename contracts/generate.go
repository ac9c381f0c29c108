package contracts

// The JSON Schema of every message type, in schema/, is generated from the
// Go types of this package; run "go generate ./contracts" after changing
// them (TestSchemasUpToDate fails until then).
//go:generate go run ./internal/schemagen
