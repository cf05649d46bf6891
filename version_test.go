package amqp_test

import (
	"os"
	"strings"
	"testing"

	"github.com/amqplib-go/amqp"
)

// The one version constant has its entry in CHANGELOG.md.
func TestVersionInChangelog(t *testing.T) {
	b, err := os.ReadFile("CHANGELOG.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "## ["+amqp.Version+"]") {
		t.Errorf("CHANGELOG.md has no \"## [%s]\" entry for amqp.Version", amqp.Version)
	}
}
