"""Built-in plugin: the `conformance` scorer (work in progress)."""
