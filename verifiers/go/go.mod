module example.invalid/licensing-verifier

go 1.19
