// Package e2e builds the warden binary and drives it as an operator would,
// each test in a fresh network namespace of its own. The tests need root,
// iproute2 and nft, and skip otherwise.
package e2e
