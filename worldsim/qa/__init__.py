"""VLM4D-style questions about a generated clip: exact answers from the generator's labels (or the plan).

`worldsim.qa.measure` reads motion from labels.json (image-space heading, rotation sense as seen);
`worldsim.qa.questions` turns a plan and its labels into multiple-choice `QAItem`s and their VLM4D records.
The `vlm4d-qa` scorer asks them; `worldsim batch` stores them in dataset records.
"""
