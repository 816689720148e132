"""Rendering: a tile-based PyTorch Gaussian rasterizer with `gsplat.rasterization`'s call signature.

Import `worldsim.render.rasterize` for the functional entry point; this package itself imports
nothing heavy (no torch at core import time).
"""
