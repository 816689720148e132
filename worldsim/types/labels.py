"""`labels.json`: a generator's exact per-frame labels, the contract between a generator and every later reader.

Coordinates: world x right, y up, z towards the camera (metres); image boxes and centres normalised
xyxy / xy with the origin top-left and y down. Per-pixel arrays live beside it in `labels.safetensors`
(`masks` [T,H,W] uint8: 0 background, k = the object with id k; `depth` [T,H,W] float32 along camera z).
Generators may add keys of their own (kept on read and write); the fields below are the contract.

Moving cameras (plan.camera not static): `camera` is the FIRST frame's camera, the frame of reference of an
object's commanded direction; `cameras` holds every frame's camera (same intrinsics), `camera_motion` the
plan's CameraSpec; each object frame's `box` / `center` are measured in that frame's image (what the video
shows), and `center_first_view` is its world position projected by the first frame's camera (its motion in
the world as seen from where the camera started). `planned_box` is then the planned box as that frame's camera
sees it (the planner's box made a world rectangle through the planned position, facing the camera, projected:
what a box measured in the video is compared with) and `planned_box_first_view` the planner's own box, in the
first camera's image. A static camera writes none of these keys (`planned_box` is the planner's box).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from worldsim.types.camera import Camera


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class LabelFrame(_Open):
    t: int = Field(ge=0, description="frame index")
    box: list[float] | None = Field(description="measured xyxy box of the visible pixels; None when not visible")
    center: list[float] | None = Field(description="mean xy of the visible pixels; None when not visible")
    pixels: int = Field(ge=0, description="visible pixels")
    planned_box: list[float] | None = Field(default=None, description="the planned xyxy box (moving camera: as this "
                                            "frame's camera sees it)")
    position: list[float] | None = Field(default=None, description="world position of the object centre")
    rotation: list[float] | None = Field(default=None, description="world orientation, wxyz")
    center_first_view: list[float] | None = Field(default=None, description="moving camera only: the world position "
                                                  "projected by the first frame's camera, normalised xy")
    planned_box_first_view: list[float] | None = Field(default=None, description="moving camera only: the planner's "
                                                       "box in the first camera's image (planned_box: in this frame's)")


class LabelObject(_Open):
    id: int = Field(ge=1, description="instance id in the masks")
    name: str
    color: str | None = None
    shape: str | None = None
    object_index: int | None = Field(default=None, description="index of the plan object this instance comes from")
    instance: int | None = Field(default=None, description="index of the instance within that plan object")
    keypoints: list[dict] = Field(default_factory=list, description="planned trajectory keypoints {x, y, t}")
    spin_axis: list[float] | None = Field(default=None, description="world spin axis (unit vector)")
    angular_speed_rad_per_frame: float | None = None
    frames: list[LabelFrame]


class Labels(_Open):
    generator: str
    seed: int
    config: dict = Field(default_factory=dict, description="the generator's resolved Config")
    plan: dict = Field(description="the Plan the clip was made from (model_dump)")
    fps: int = Field(gt=0)
    num_frames: int = Field(gt=0)
    width: int = Field(gt=0)
    height: int = Field(gt=0)
    camera: Camera | None = Field(default=None, description="the input camera (editors and field answerers need it); "
                                  "with a moving camera, the first frame's")
    cameras: list[Camera] | None = Field(default=None, description="moving camera only: every frame's camera")
    camera_motion: dict | None = Field(default=None, description="moving camera only: the plan's CameraSpec {motion, speed, target}")
    coordinates: str | None = None
    ground_y: float | None = Field(default=None, description="world height of the ground plane")
    ground_palette: str | None = None
    masks: str | None = Field(default=None, description="where the masks are and what their values mean")
    objects: list[LabelObject] = Field(default_factory=list)

    def to_dict(self) -> dict:
        """The labels as the JSON file holds them (for code and teachers that take a plain dict)."""
        return self.model_dump(mode="json", exclude_unset=True)
