# worldsim: two commands. `make demo` installs everything and runs the main job through the Prefect
# deployment; `make test` installs everything and runs the test suite (CI calls exactly this).
.PHONY: demo test bench setup

setup:
	bash scripts/setup.sh

demo: setup
	bash scripts/demo.sh

test: setup
	.venv/bin/python -m pytest -q -n auto --dist loadfile

bench: setup
	.venv/bin/python benchmarks/bench_generate.py
	.venv/bin/python benchmarks/bench_prefect_overhead.py
	.venv/bin/python benchmarks/bench_rasterizer.py
