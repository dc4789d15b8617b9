#!/usr/bin/env bash
# Regenerate the Dagger module's generated code with NO Dagger engine, exactly
# as `dagger develop` on engine v0.19.11 does:
#   .dagger/dagger.gen.go                  (package main: dag, main(), invoke)
#   .dagger/internal/dagger/dagger.gen.go  (typed API)
#   .dagger/go.mod, .dagger/go.sum         (synced with dagger.io/dagger, tidied)
#
# Usage: DAGGER_SRC=/path/to/dagger-v0.19.11-source .dagger/hack/regen.sh
#   DAGGER_SRC  dagger/dagger source tree at tag v0.19.11 (see .dagger/README.md)
#   WORK        scratch directory (default: a new temp dir; kept for inspection)
#
# Steps (mirroring the engine, core/sdk/go_sdk.go baseWithCodegen):
#   1. build cmd/codegen and cmd/introspect from the dagger source;
#   2. introspect the v0.19.11 core schema in-process (the engine's own tool:
#      it installs the core API into a dagql server and runs the introspection
#      query; no engine/buildkit involved);
#   3. hide the types the engine hides from module SDKs (core/schema/query.go
#      getSchemaJSON: Engine, EngineCache, EngineCacheEntry, EngineCacheEntrySet,
#      then Host, each with its ID) using codegen's own Schema.ScrubType;
#   4. run `codegen generate-module` on a scratch copy of dagger.json + .dagger
#      (what the engine mounts), with dagger.gen.go removed first as the engine
#      does, then copy the outputs back.
set -euo pipefail

DAGGER_VERSION=v0.19.11
: "${DAGGER_SRC:?set DAGGER_SRC to the dagger/dagger source at ${DAGGER_VERSION}}"
DAGGER_SRC=$(cd "$DAGGER_SRC" && pwd)
WORK=${WORK:-$(mktemp -d /tmp/statex-dagger-regen.XXXXXX)}
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
REPO=$(cd "$(dirname "$0")/../.." && pwd)

# never download a Go toolchain; the dagger go.mod needs -mod=mod to resolve
export GOTOOLCHAIN=local

if ! grep -q '^module github.com/dagger/dagger$' "$DAGGER_SRC/go.mod"; then
	echo "DAGGER_SRC=$DAGGER_SRC is not the dagger/dagger source" >&2
	exit 1
fi

echo ">> building codegen and introspect from $DAGGER_SRC"
# the schema scrubber must live inside the dagger module to import its
# cmd/codegen/introspection package; it is written to the scratch source tree only
mkdir -p "$DAGGER_SRC/hack/statex-module-schema"
cat >"$DAGGER_SRC/hack/statex-module-schema/main.go" <<'EOF'
// Reads the core introspection JSON on stdin and writes the schema a module's
// Go SDK codegen receives (core/schema/query.go getSchemaJSON + core/moddeps.go
// TypesToIgnoreForModuleIntrospection).
package main

import (
	"encoding/json"
	"os"

	"github.com/dagger/dagger/cmd/codegen/introspection"
)

func main() {
	var resp introspection.Response
	if err := json.NewDecoder(os.Stdin).Decode(&resp); err != nil {
		panic(err)
	}
	for _, t := range []string{
		"Engine", "EngineCache", "EngineCacheEntry", "EngineCacheEntrySet", // core.TypesHiddenFromModuleSDKs
		"Host", // core.TypesToIgnoreForModuleIntrospection
	} {
		resp.Schema.ScrubType(t)
		resp.Schema.ScrubType(t + "ID")
	}
	if err := json.NewEncoder(os.Stdout).Encode(resp); err != nil {
		panic(err)
	}
}
EOF
(
	cd "$DAGGER_SRC"
	export GOFLAGS=-mod=mod
	go build -o "$WORK/codegen" ./cmd/codegen
	go build -o "$WORK/introspect" ./cmd/introspect
	go build -o "$WORK/module-schema" ./hack/statex-module-schema
)

echo ">> introspecting the ${DAGGER_VERSION} core schema"
"$WORK/introspect" introspect --version="$DAGGER_VERSION" >"$WORK/core-schema.json" 2>"$WORK/introspect.log"
"$WORK/module-schema" <"$WORK/core-schema.json" >"$WORK/module-schema.json"

echo ">> generating the module code in $WORK/ctx"
rm -rf "$WORK/ctx"
mkdir -p "$WORK/ctx"
cp "$REPO/dagger.json" "$WORK/ctx/"
cp -r "$REPO/.dagger" "$WORK/ctx/.dagger"
rm -rf "$WORK/ctx/.dagger/dagger.gen.go" "$WORK/ctx/.dagger/internal/dagger"
(
	cd "$WORK/ctx/.dagger"
	"$WORK/codegen" generate-module \
		--output "$WORK/ctx" \
		--module-source-path "$WORK/ctx/.dagger" \
		--module-name statex \
		--introspection-json-path "$WORK/module-schema.json" \
		--lib-version "$DAGGER_VERSION"
) >"$WORK/codegen.log" 2>&1 || {
	tail -30 "$WORK/codegen.log" >&2
	exit 1
}

for f in dagger.gen.go internal/dagger/dagger.gen.go go.mod go.sum; do
	install -D -m 0644 "$WORK/ctx/.dagger/$f" "$REPO/.dagger/$f"
done
echo ">> done: .dagger/{dagger.gen.go,internal/dagger/dagger.gen.go,go.mod,go.sum} (scratch: $WORK)"
