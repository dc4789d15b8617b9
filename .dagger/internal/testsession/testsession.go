// Package testsession lets the module's unit tests run with a plain
// `go test ./...`: the generated internal/dagger panics in its init unless
// DAGGER_SESSION_PORT and DAGGER_SESSION_TOKEN are set (it builds a client;
// nothing dials until an API call, and the tests make none).
//
// Imported (blank) by the tests only. Go initialises a package after the
// packages it imports and, among those ready, in import-path order (spec,
// "Package initialization", Go 1.21+): this one imports only syscall, so it
// is ready, and runs, long before internal/dagger, which needs net/http.
package testsession

import "syscall"

func init() {
	for k, v := range map[string]string{"DAGGER_SESSION_PORT": "1", "DAGGER_SESSION_TOKEN": "unit-test"} {
		if _, ok := syscall.Getenv(k); !ok {
			_ = syscall.Setenv(k, v)
		}
	}
}
