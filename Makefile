# worldsim: two commands. `make demo` installs everything and runs the main job through the Prefect
# deployment; `make test` installs everything and runs the test suite (CI calls exactly this).
.PHONY: demo test bench bench-edit bench-scoring bench-cameras bench-viewer setup

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

# Long (about 60, 5 and 2 minutes on 2 cores): field-4d QA over 100 reconstructed scenes (38 filmed by a moving
# camera), a 200-scene batch with a kill-and-resume check, question exactness over 100 scenes.
bench-scoring: setup
	.venv/bin/python benchmarks/bench_qa_field4d.py --scenes 100 --seed 0 --ego-ratio 0.375 --set reconstructor.object_motion=labels
	.venv/bin/python benchmarks/bench_batch.py
	.venv/bin/python benchmarks/bench_qa_questions.py --scenes 100

# Moving cameras (about 1, 30 and 45 minutes on 2 cores): the held-out camera phrases, poses from the pixels over
# 60 scenes, moving-camera reconstruction against the same scenes filmed static.
bench-cameras: setup
	.venv/bin/python benchmarks/bench_camera_parser.py
	.venv/bin/python benchmarks/bench_pose.py
	.venv/bin/python benchmarks/bench_moving_camera_recon.py --scenes 6

# The browser viewer in headless Chromium: a fresh default run (~8k Gaussians) and a 100k-Gaussian copy.
bench-viewer: setup
	.venv/bin/python benchmarks/bench_viewer.py
