# worldsim: two commands. `make demo` installs everything and runs the main job through the Prefect
# deployment; `make test` installs everything and runs the test suite (CI calls exactly this).
.PHONY: demo test bench bench-edit setup

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
	.venv/bin/python benchmarks/bench_reconstruct.py

# Long (about 20 and 10 minutes on 2 cores): edit accuracy over 20 scenes, the Morpho4D examples.
bench-edit: setup
	.venv/bin/python benchmarks/bench_edit.py --scenes 20
	.venv/bin/python benchmarks/bench_morpho4d_examples.py
