"""Built-in plugin: dataset exporters for VLM fine-tuning (work in progress)."""
