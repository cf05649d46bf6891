package amqp_test

import (
	"fmt"

	"github.com/amqplib-go/amqp"
)

func ExampleParseURI() {
	u, err := amqp.ParseURI("amqps://app:s3cret@rabbit.example.com/orders?heartbeat=10&auth_mechanism=plain")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(u.TLS, u.Addr(), u.Username, u.Vhost, u.Heartbeat, u.AuthMechanisms)
	fmt.Println(u)
	// Output:
	// true rabbit.example.com:5671 app orders 10s [PLAIN]
	// amqps://app:xxxxx@rabbit.example.com:5671/orders?heartbeat=10&auth_mechanism=plain
}

// No path, a bare trailing slash and %2F all mean the default vhost "/";
// any other vhost is the path, percent-encoded.
func ExampleParseURI_vhost() {
	for _, s := range []string{"amqp://localhost", "amqp://localhost/%2F", "amqp://localhost/", "amqp://localhost/prod"} {
		u, _ := amqp.ParseURI(s)
		fmt.Printf("%-22s vhost %q\n", s, u.Vhost)
	}
	// Output:
	// amqp://localhost       vhost "/"
	// amqp://localhost/%2F   vhost "/"
	// amqp://localhost/      vhost "/"
	// amqp://localhost/prod  vhost "prod"
}

// Errors wrap ErrInvalidArgument and never show the password.
func ExampleParseURI_error() {
	_, err := amqp.ParseURI("amqp://admin:hunter2@localhost?heartbeat=soon")
	fmt.Println(err)
	_, err = amqp.ParseURI("amqp://admin:pass/word@localhost")
	fmt.Println(err)
	// Output:
	// amqp: invalid argument: URI: query parameter heartbeat: "soon" is not a number of seconds from 0 to 65535
	// amqp: invalid argument: URI: '@' must separate the user info from the host only; percent-encode '@', '/', '?' and '#' in user names and passwords (%40, %2F, %3F, %23)
}

func ExampleURI_Addr() {
	u, _ := amqp.ParseURI("amqp://[::1]:5673")
	fmt.Println(u.Addr())
	// Output: [::1]:5673
}
