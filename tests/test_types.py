import json
import math

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from worldsim.types import BoxTrack, Camera, GaussianScene, ObjectSpec, Plan, QAItem
from worldsim.types.gaussians import quat_multiply, quat_to_rotmat


def test_plan_contract_is_the_parse_json_shape():
    plan = Plan(mode="generate", objects=(ObjectSpec(name="ball", color="red", count=2),))
    assert plan.contract() == {"mode": "generate", "objects": [{"name": "ball", "color": "red", "count": 2}],
                               "motion": {"direction": "none", "speed": "normal"}, "edit": None,
                               "camera": {"motion": "static", "speed": "normal", "target": None}}
    assert Plan.model_validate_json(plan.model_dump_json()) == plan


def test_static_camera_is_left_out_of_plan_json_and_a_moving_one_round_trips():
    from worldsim.types import CameraSpec

    plan = Plan(mode="generate", objects=(ObjectSpec(name="ball"),))
    assert "camera" not in plan.model_dump(mode="json") and '"camera"' not in plan.model_dump_json()
    moving = plan.model_copy(update={"camera": CameraSpec(motion="follow", speed="slow", target="ball")})
    assert moving.model_dump(mode="json")["camera"] == {"motion": "follow", "speed": "slow", "target": "ball"}
    assert Plan.model_validate_json(moving.model_dump_json()) == moving
    with pytest.raises(ValueError, match="follow camera needs a target"):
        CameraSpec(motion="follow")
    with pytest.raises(ValueError, match="takes no target"):
        CameraSpec(motion="pan-left", target="ball")
    with pytest.raises(ValueError):
        CameraSpec(motion="zoom-in")


@pytest.mark.parametrize("kwargs", [
    {"mode": "generate"},
    {"mode": "edit"},
    {"mode": "generate", "objects": [{"name": "ball"}], "edit": {"op": "remove", "target": "ball"}},
    {"mode": "generate", "objects": [{"name": "ball"}], "motion": {"direction": "sideways"}},
    {"mode": "generate", "objects": [{"name": "ball", "count": 0}]},
    {"mode": "edit", "edit": {"op": "Explode!", "target": "ball"}},
    {"mode": "edit", "edit": {"op": "recolor", "target": ""}},
    {"mode": "edit", "edit": {"op": "recolor", "target": "ball", "params": {"color": object()}}},
])
def test_invalid_plans_are_rejected(kwargs):
    with pytest.raises(ValidationError):
        Plan.model_validate(kwargs)


def test_edit_ops_and_params_are_checked_against_the_installed_editors():
    """A plan's edit names any op; the op and its params are checked by worldsim.edit_ops."""
    from worldsim import edit_ops
    from worldsim.errors import InputError

    plan = Plan.model_validate({"mode": "edit", "edit": {"op": "recolor", "target": "ball", "color": "grey"}})
    assert plan.edit.params == {"color": "grey"} and plan.edit.color == "grey"  # legacy keyword folded into params
    assert edit_ops.validate_params("recolor", dict(plan.edit.params)) == {"color": "gray"}
    with pytest.raises(InputError, match="color.*Field required"):
        edit_ops.validate_params("recolor", {})
    with pytest.raises(InputError, match="direction"):
        edit_ops.validate_params("move", {})
    with pytest.raises(InputError, match="unknown edit op 'explode'"):
        edit_ops.params_model("explode")


def test_box_track_rejects_inverted_boxes():
    with pytest.raises(ValidationError, match="inverted"):
        BoxTrack(boxes=((0.5, 0.5, 0.4, 0.6),))


def test_camera_look_at_follows_image_conventions():
    cam = Camera.look_at((0, 1, 5), (0, 1, 0), 64, 48, 40)
    xy, depth = cam.project(np.array([[0, 1, 0], [1, 1, 0], [0, 2, 0]]))
    np.testing.assert_allclose(xy[0], [0.5, 0.5])
    assert xy[1, 0] > 0.5 and xy[2, 1] < 0.5  # world +x is image right, world up is image up
    np.testing.assert_allclose(depth, [5, 5, 5])
    np.testing.assert_allclose(cam.center(), [0, 1, 5])
    np.testing.assert_allclose(cam.ray(0.5, 0.5), [0, 0, -1], atol=1e-12)
    R = np.asarray(cam.viewmat)[:3, :3]
    assert math.isclose(np.linalg.det(R), 1.0)
    f = cam.K[1][1]
    assert math.isclose(2 * math.degrees(math.atan(24 / f)), 40)


def test_qa_item_round_trips():
    item = QAItem(id="q1", video="v.mp4", question_type="translational", question="Where?",
                  choices={"A": "left", "B": "right", "C": "not moving", "D": "no ball there"}, answer="B")
    assert QAItem.model_validate(json.loads(item.model_dump_json())) == item


def _scene():
    return GaussianScene(
        means=torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 5.0]]),
        quats=torch.tensor([[1.0, 0, 0, 0], [1.0, 0, 0, 0]]),
        log_scales=torch.zeros(2, 3), logit_opacities=torch.zeros(2), sh=torch.zeros(2, 1, 3),
        basis_rotations=torch.tensor([[[1.0, 0, 0, 0]] * 2, [[1.0, 0, 0, 0], [math.cos(math.pi / 4), 0, math.sin(math.pi / 4), 0]]]),
        basis_translations=torch.tensor([[[0.0, 0, 0]] * 2, [[0.0, 0, 0], [0.0, 2.0, 0]]]),
        weights=torch.tensor([[0.0, 1.0], [1.0, 0.0]]), instance=torch.tensor([1, 0]),
    )


def test_gaussian_scene_moves_with_its_basis_and_saves(tmp_path):
    scene = _scene()
    means, quats = scene.at_frame(1)
    # 90 degrees about +y takes +x to -z, then translate up by 2; the background stays put
    torch.testing.assert_close(means, torch.tensor([[0.0, 2.0, -1.0], [0.0, 0.0, 5.0]]), atol=1e-6, rtol=0)
    torch.testing.assert_close(quat_to_rotmat(quats[0]), quat_to_rotmat(scene.basis_rotations[1, 1]))
    loaded = GaussianScene.load(scene.save(tmp_path / "s.safetensors"))
    assert loaded.features is None and torch.equal(loaded.means, scene.means) and loaded.num_frames == 2


def test_quaternion_helpers():
    q = torch.nn.functional.normalize(torch.randn(5, 4, generator=torch.Generator().manual_seed(0)), dim=-1)
    r = torch.nn.functional.normalize(torch.randn(5, 4, generator=torch.Generator().manual_seed(1)), dim=-1)
    torch.testing.assert_close(quat_to_rotmat(quat_multiply(q, r)), quat_to_rotmat(q) @ quat_to_rotmat(r), atol=1e-5, rtol=0)
