import torch

from worldsim.dmc.attention import AttentionRecorder, install_recorders, is_cross
from plugins.tiny_t2v.model import TinyT2VConfig, TinyVideoDiT

CFG = TinyT2VConfig(num_frames=4, size=16, patch=4, dim=32, depth=2, heads=2, text_tokens=6)


def test_forward_shape_and_save_load(tmp_path):
    torch.manual_seed(0)
    model = TinyVideoDiT(CFG)
    for p in model.parameters():  # leave the zero init so the output depends on the input
        p.data.add_(0.01 * torch.randn_like(p))
    x = torch.randn(2, 3, 4, 16, 16)
    ctx = model.context(torch.randn(2, 6, 384), torch.tensor([0, 5]))
    assert ctx.shape == (2, 8, 384)
    out = model(x, torch.tensor([10, 500]), ctx)
    assert out.shape == x.shape
    model.save(tmp_path / "m")
    again = TinyVideoDiT.load(tmp_path / "m")
    assert torch.allclose(again(x, torch.tensor([10, 500]), ctx), out, atol=1e-6)


def test_cross_attention_is_recordable_per_frame():
    model = TinyVideoDiT(CFG).eval()
    rec = AttentionRecorder([[1, 2]], layout="frames-in-batch")
    with install_recorders(model, rec, lambda n, m: is_cross(m)) as handle, rec.recording():
        model(torch.randn(1, 3, 4, 16, 16), torch.tensor(100), model.context(torch.randn(1, 6, 384), torch.tensor([3])))
        maps = rec.maps_for(4, CFG.grid, CFG.grid)
    assert handle.names == ["blocks.0.attn2", "blocks.1.attn2"]
    assert maps.shape == (2, 4, 4, 4, 1)
    assert ((maps >= 0) & (maps <= 1)).all()


def test_out_conv_starts_as_the_plain_head_and_mixes_neighbouring_patches():
    torch.manual_seed(0)
    plain = TinyVideoDiT(CFG)
    for p in plain.parameters():
        p.data.add_(0.01 * torch.randn_like(p))
    conv = TinyVideoDiT(CFG.model_copy(update={"out_conv": True}))
    missing = conv.load_state_dict(plain.state_dict(), strict=False).missing_keys
    assert sorted(missing) == ["conv_out.bias", "conv_out.weight"]
    x, t = torch.randn(1, 3, 4, 16, 16), torch.tensor([300])
    ctx = plain.context(torch.randn(1, 6, 384), torch.tensor([2]))
    assert torch.allclose(conv(x, t, ctx), plain(x, t, ctx), atol=1e-6)  # zero-init residual conv
    with torch.no_grad():
        conv.conv_out.weight.fill_(0.1)
    delta = conv(x, t, ctx) - plain(x, t, ctx)
    assert delta.abs().max() > 1e-4
    # a 3x3 conv crosses patch borders (pixels 3|4 belong to different 4x4 patches) but not frames
    assert delta[:, :, :, :, 3].abs().sum() > 0 and delta.shape == x.shape
