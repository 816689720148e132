"""Built-in plugin: diffusers video generators with directional motion control (work in progress)."""
