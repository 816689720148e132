"""Built-in plugin: VLM4D-style question generation, judging and the `vlm4d-qa` scorer (work in progress)."""
