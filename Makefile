# Task runner. The README's two commands are ./scripts/run.sh and ./scripts/test.sh.
.PHONY: run test e2e lint bench fmt
run:
	./scripts/run.sh
test:
	./scripts/test.sh
lint:
	./scripts/lint.sh
fmt:
	RUSTUP_TOOLCHAIN=stable cargo fmt --all
bench:
	./scripts/bench.sh
