module github.com/streamkit/streamkit/bench/go

go 1.24

require github.com/streamkit/streamkit/bindings/go v0.0.0

replace github.com/streamkit/streamkit/bindings/go => ../../bindings/go
