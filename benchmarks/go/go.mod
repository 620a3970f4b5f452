module example.invalid/licensing-benchmarks

go 1.19

require example.invalid/licensing-verifier v0.0.0

replace example.invalid/licensing-verifier => ../../verifiers/go
