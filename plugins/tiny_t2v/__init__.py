"""Built-in plugin: the self-trained `tiny-t2v` text-to-video generator (work in progress)."""
