module github.com/streamkit/streamkit/bindings/go

go 1.24
