# worldsim: two commands. `make demo` installs everything and runs the main job through the Prefect
# deployment; `make test` installs everything and runs the test suite (CI calls exactly this).
.PHONY: demo test bench bench-edit bench-scoring setup

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
	.venv/bin/python benchmarks/bench_conformance.py
	.venv/bin/python benchmarks/bench_dmc_tiny.py --seeds 5

# Long (about 20 and 10 minutes on 2 cores): edit accuracy over 20 scenes, the Morpho4D examples.
bench-edit: setup
	.venv/bin/python benchmarks/bench_edit.py --scenes 20
	.venv/bin/python benchmarks/bench_morpho4d_examples.py

# Long (about 25, 5 and 2 minutes on 2 cores): field-4d QA over 100 reconstructed scenes, a 200-scene
# batch with a kill-and-resume check, question exactness over 100 scenes.
bench-scoring: setup
	.venv/bin/python benchmarks/bench_qa_field4d.py --scenes 100 --seed 0
	.venv/bin/python benchmarks/bench_batch.py
	.venv/bin/python benchmarks/bench_qa_questions.py --scenes 100
