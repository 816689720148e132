"""Built-in camera pose estimators (stage kind `pose`): every frame's camera of a video, in frame 0's world frame.

| name | needs | how |
|---|---|---|
| `opencv-pnp` | frames + a depth prior; masks optional | corners lifted with the depth, tracked (Lucas-Kanade), RANSAC PnP + LM per frame; static clips detected (exact copies) |
| `label-poses` | the generator's labels (`cameras`) | the ground-truth cameras, checked against the given frame-0 camera |

A reconstructor calls one through the registry (worldsim.stages.PoseEstimator has the contract).
"""

from worldsim.hookspecs import hookimpl


@hookimpl
def register_poses(register):
    from plugins.pose_estimation.labels import LabelPoses
    from plugins.pose_estimation.pnp import OpenCVPnP

    register(OpenCVPnP)
    register(LabelPoses)
