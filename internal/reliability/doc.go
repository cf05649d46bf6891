// Package reliability holds the client's fault, silence, bad-input and leak
// tests, against the main broker (through internal/faultproxy where the
// network must misbehave) and a throwaway second node (internal/node2) where
// the broker itself must: frozen, alarmed or closing connections. The tests
// run on both protocol versions wherever the feature exists; docs/reliability.md
// lists what each one proves.
package reliability
