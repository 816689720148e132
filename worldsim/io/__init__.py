"""File formats: MP4 video, 3DGS PLY, dataset exports. Heavy imports happen inside the functions."""
