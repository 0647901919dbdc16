// Package krew tests the kubectl plugin's release as a user gets it: it runs
// `hack/release.sh plugin` for this machine's platform only (the archive,
// SHA256SUMS and the filled krew manifest), checks the manifest with the
// check a krew index runs (bin/validate-krew-manifest) and installs the
// archive with krew itself (bin/kubectl-krew, built from source by
// hack/build-tools.sh), offline, into a fresh KREW_ROOT, then runs the
// installed kubectl-jack. It also checks that a manifest with a wrong sha256
// does not install and that two builds give the same archive.
//
// Nothing goes to the network: krew installs from --archive, with its upgrade
// check off and every proxy variable pointing at a closed loopback port, and
// the manifest's download URLs point at a loopback server that counts what
// it is asked. The tests skip when bin/kubectl-krew or
// bin/validate-krew-manifest is missing, unless JACK_REQUIRE_KREW=1 (make
// test, which builds them, sets it).
package krew
