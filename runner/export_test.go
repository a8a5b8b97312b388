package runner

// BuildMutex is buildMutex, for the tests that take it as other users.
var BuildMutex = buildMutex

// ContainerMounts is RunSpec.mounts.
var ContainerMounts = RunSpec.mounts
