package runner

// BuildMutex is buildMutex, for the tests that take it as other users.
var BuildMutex = buildMutex
