"""Built-in plugin: question answerers (work in progress)."""
