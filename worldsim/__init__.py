"""worldsim: a plugin-based workflow engine for generative 4D world simulation."""
__version__ = "0.1.0"
