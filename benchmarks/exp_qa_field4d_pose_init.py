"""Experiment for benchmarks/README.md (field-4d, rotational questions), not a change to plugins/feature_gs:
feature-4dgs with each object's motion bases initialised from the tracked object's per-frame pose (labels.json `position` + `rotation`), rotation about the object centre.
Runs benchmarks/bench_qa_field4d.py's main() with that patch; pass the benchmark's arguments, e.g.
    nice -n 10 env OMP_NUM_THREADS=1 .venv/bin/python benchmarks/exp_qa_field4d_pose_init.py --scenes 100 --seed 0 --out DIR
It patches feature-4dgs internals (stage._load_video, init.initialise) from outside, so it follows their names."""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]
import torch  # noqa: E402

import plugins.feature_gs.init as fgs_init  # noqa: E402
import plugins.feature_gs.stage as fgs_stage
from worldsim.types.gaussians import quat_multiply, quat_to_rotmat

CAPTURED = {}
_load = fgs_stage._load_video
_init = fgs_init.initialise


def load_video(video, run_dir):
    frames, labels, arrays = _load(video, run_dir)
    CAPTURED["labels"] = labels
    return frames, labels, arrays


def initialise(frames, depth, masks, camera, **kw):
    res = _init(frames, depth, masks, camera, **kw)
    labels = CAPTURED.get("labels") or {}
    objs = {o["id"]: o for o in labels.get("objects", [])}
    rot, trans = res.model.basis_rotations.data, res.model.basis_translations.data
    for b, k in enumerate(res.basis_instance[1:]):  # the model stores the dynamic bases only
        o = objs.get(k)
        if not k or o is None or masks is None or any(f.get("rotation") is None or f.get("position") is None for f in o["frames"]):
            continue
        t_ref = int((masks == k).flatten(1).sum(1).argmax())  # the frame init took the object's Gaussians from
        q = torch.tensor([f["rotation"] for f in o["frames"]], dtype=torch.float64)
        p = torch.tensor([f["position"] for f in o["frames"]], dtype=torch.float64)
        conj = q[t_ref] * torch.tensor([1.0, -1.0, -1.0, -1.0], dtype=torch.float64)
        q_rel = quat_multiply(q, conj.expand_as(q))  # R_t R_ref^T
        R = quat_to_rotmat(q_rel)
        rot[b] = q_rel.to(rot.dtype)
        trans[b] = (p - torch.einsum("tij,j->ti", R, p[t_ref])).to(trans.dtype)  # x_t = R_rel (x - p_ref) + p_t
    return res


fgs_stage._load_video = load_video
fgs_init.initialise = initialise

import bench_qa_field4d  # noqa: E402

sys.argv = ["bench_qa_field4d.py", *sys.argv[1:]]
sys.exit(bench_qa_field4d.main())
