import json

import torch

from plugins.tiny_t2v.data import build_dataset
from plugins.tiny_t2v.model import TinyT2VConfig, TinyVideoDiT
from plugins.tiny_t2v.train import Batches, TrainConfig, evaluate_loss, train

TINY = TinyT2VConfig(num_frames=8, size=16, patch=4, dim=32, depth=1, heads=2)


def _data():
    return build_dataset(2, seed=3, num_frames=8, size=16)


def test_training_lowers_the_loss_and_the_checkpoint_round_trips(tmp_path):
    data = _data()
    cfg = TrainConfig(steps=6, clips=2, batch=2, lr=3e-3, warmup=0, model=TINY, save_every=3)
    torch.manual_seed(0)
    before = evaluate_loss(TinyVideoDiT(TINY), Batches(data, cfg, torch.Generator().manual_seed(0)), seed=7)
    model, summary = train(cfg, tmp_path / "ckpt", data=data, progress=False)
    model.train()  # dropout-free, but compare in the same mode as `before`
    after = evaluate_loss(model, Batches(data, cfg, torch.Generator().manual_seed(0)), seed=7)
    assert after < before

    loaded = TinyVideoDiT.load(tmp_path / "ckpt")
    for (k, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), k
    meta = json.loads((tmp_path / "ckpt" / "training.json").read_text())
    assert meta["steps_done"] == 6 and meta["data_seed"] == 0 and meta["clips"] == 2
    assert "--steps 6" in meta["reproduce"]
    assert not (tmp_path / "ckpt" / "partial").exists()


def test_a_partial_checkpoint_names_the_whole_run(tmp_path):
    from plugins.tiny_t2v.train import _summary

    data = _data()
    cfg = TrainConfig(steps=6, clips=2, batch=2, model=TINY)
    partial = _summary(cfg, 3, data, 0.0, 0.0, [])
    assert partial["steps_done"] == 3 and partial["train_config"]["steps"] == 6
    assert "--steps 6" in partial["reproduce"] and "step 3" in partial["reproduce"]
    assert "(this is" not in _summary(cfg, 6, data, 0.0, 0.0, [])["reproduce"]


def test_same_seed_same_weights(tmp_path):
    data = _data()
    cfg = TrainConfig(steps=2, clips=2, batch=2, model=TINY)
    a, _ = train(cfg, tmp_path / "a", data=data, progress=False)
    b, _ = train(cfg, tmp_path / "b", data=data, progress=False)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_learning_rate_schedules():
    from plugins.tiny_t2v.train import learning_rate

    constant = TrainConfig(steps=100, warmup=10, lr=1e-3, lr_schedule="constant")
    assert learning_rate(constant, 0) == 1e-4 and learning_rate(constant, 9) == 1e-3 == learning_rate(constant, 99)
    cosine = constant.model_copy(update={"lr_schedule": "cosine", "min_lr_ratio": 0.1})
    lrs = [learning_rate(cosine, s) for s in range(100)]
    assert lrs[:10] == [learning_rate(constant, s) for s in range(10)]  # same warmup
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:]))  # then non-increasing
    assert abs(lrs[-1] - 1e-4) < 1e-12 and abs(lrs[10] - 1e-3) < 1e-12
