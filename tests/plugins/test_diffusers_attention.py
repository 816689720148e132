import inspect
import math

import pytest
import torch

from worldsim.dmc.attention import (
    AttentionRecorder,
    attention_modules,
    install_recorders,
    phrase_token_indices,
)
from plugins.diffusers_video.testing import tiny_clip_tokenizer, tiny_t5_tokenizer
from worldsim.errors import InputError


def _cross_attention(dim=8, text_dim=6, heads=2):
    from diffusers.models.attention_processor import Attention

    torch.manual_seed(0)
    return Attention(query_dim=dim, cross_attention_dim=text_dim, heads=heads, dim_head=4)


class RotaryProbe:
    """A processor that declares an extra keyword (as CogVideoX/Cosmos processors declare image_rotary_emb)."""

    def __init__(self):
        self.seen = []

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, image_rotary_emb=None):
        from diffusers.models.attention_processor import AttnProcessor2_0

        self.seen.append(image_rotary_emb)
        out = AttnProcessor2_0()(attn, hidden_states, encoder_hidden_states, attention_mask)
        return out if image_rotary_emb is None else out + image_rotary_emb


def test_wrapper_exposes_the_inner_signature_and_keeps_extra_keywords():
    attn = _cross_attention()
    probe = RotaryProbe()
    attn.set_processor(probe)
    rec = AttentionRecorder([[1]])
    x, text, rot = torch.randn(1, 5, 8), torch.randn(1, 3, 6), torch.full((1, 5, 8), 0.5)
    with install_recorders(attn, rec):
        wrapped = attn.processor
        assert wrapped is not probe
        assert inspect.signature(wrapped.__call__) == inspect.signature(probe.__call__)
        with rec.recording():
            out = attn(x, encoder_hidden_states=text, image_rotary_emb=rot)
    assert probe.seen[-1] is rot  # Attention.forward did not drop the keyword
    attn.set_processor(probe)
    assert torch.allclose(out, attn(x, encoder_hidden_states=text, image_rotary_emb=rot))
    assert len(rec.entries) == 1


def test_cogvideox_processor_signature_passes_through():
    from diffusers.models.attention_processor import CogVideoXAttnProcessor2_0

    from worldsim.dmc.attention import _wrap

    inner = CogVideoXAttnProcessor2_0()
    wrapped = _wrap(inner, AttentionRecorder([[0]]), "x", "joint-video-text")
    params = inspect.signature(wrapped.__call__).parameters
    assert "image_rotary_emb" in params and list(params) == list(inspect.signature(inner.__call__).parameters)


def test_recorder_captures_the_softmax_over_text_with_grad():
    attn = _cross_attention()
    rec = AttentionRecorder([[1, 2], [0]])
    x = torch.randn(2, 5, 8, requires_grad=True)
    text = torch.randn(2, 3, 6)
    handle = install_recorders(attn, rec, mode="cross")
    with rec.recording():
        attn(x, encoder_hidden_states=text)
    handle.remove()
    (name, got), = rec.entries
    assert got.shape == (2, 5, 2)
    q = attn.to_q(x).view(2, 5, 2, 4).transpose(1, 2)
    k = attn.to_k(text).view(2, 3, 2, 4).transpose(1, 2)
    probs = ((q @ k.transpose(-1, -2)) / math.sqrt(4)).softmax(-1).mean(1)
    assert torch.allclose(got[..., 0], probs[..., 1] + probs[..., 2], atol=1e-6)
    assert torch.allclose(got[..., 1], probs[..., 0], atol=1e-6)
    got[..., 0].sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_inactive_recorder_records_nothing_and_remove_restores():
    attn = _cross_attention()
    original = attn.processor
    rec = AttentionRecorder([[0]])
    handle = install_recorders(attn, rec)
    assert handle.names == [""] and attn.processor is not original
    attn(torch.randn(1, 4, 8), encoder_hidden_states=torch.randn(1, 3, 6))
    assert rec.entries == []
    handle.remove()
    assert attn.processor is original


def _tiny_unet3d():
    from diffusers import UNet3DConditionModel

    torch.manual_seed(0)
    return UNet3DConditionModel(block_out_channels=(8, 16), layers_per_block=1, norm_num_groups=4,
                                cross_attention_dim=12, attention_head_dim=4, in_channels=4, out_channels=4,
                                down_block_types=("CrossAttnDownBlock3D", "DownBlock3D"),
                                up_block_types=("UpBlock3D", "CrossAttnUpBlock3D"), sample_size=8)


def test_unet3d_maps_reshape_to_frames_and_layer_grids():
    unet = _tiny_unet3d()
    rec = AttentionRecorder([[2, 3]], layout="frames-in-batch")
    with install_recorders(unet, rec, lambda n, m: n.startswith(("mid_block", "up_blocks.1")) and m.is_cross_attention) as h:
        assert all(".attn2" in n for n in h.names) and any(n.startswith("mid_block") for n in h.names)
        with rec.recording():
            unet(torch.randn(2, 4, 3, 8, 8), 10, encoder_hidden_states=torch.randn(2, 7, 12))
    layers = rec.layer_maps(frames=3, height=8, width=8)
    shapes = {n.split(".")[0]: m.shape for n, m in layers}
    assert shapes == {"mid_block": (3, 4, 4, 1), "up_blocks": (3, 8, 8, 1)}
    maps = rec.maps_for(3, 8, 8)
    assert maps.shape == (len(layers), 3, 8, 8, 1)
    assert all(p.processor.__class__.__name__ == "AttnProcessor2_0" for _, p in attention_modules(unet))


def test_cogvideox_joint_attention_video_to_text_slice():
    from diffusers import CogVideoXTransformer3DModel

    torch.manual_seed(0)
    tr = CogVideoXTransformer3DModel(num_attention_heads=2, attention_head_dim=16, in_channels=4, out_channels=4,
                                     time_embed_dim=4, text_embed_dim=12, num_layers=2, sample_width=8,
                                     sample_height=8, sample_frames=9, patch_size=2, max_text_seq_length=7,
                                     use_rotary_positional_embeddings=True)
    rec = AttentionRecorder([[1], [2, 3]], layout="tokens")
    z = torch.randn(1, 3, 4, 8, 8, requires_grad=True)
    from diffusers.models.embeddings import get_3d_rotary_pos_embed

    rope = get_3d_rotary_pos_embed(16, ((0, 0), (4, 4)), (4, 4), 3)
    with install_recorders(tr, rec, mode="joint-video-text") as h:
        assert h.names == ["transformer_blocks.0.attn1", "transformer_blocks.1.attn1"]
        with rec.recording():
            tr(z, torch.randn(1, 7, 12), torch.tensor([10]), image_rotary_emb=rope)
    maps = rec.maps_for(frames=3, height=4, width=4)
    assert maps.shape == (2, 3, 4, 4, 2)
    assert (maps >= 0).all() and (maps.sum(-1) <= 1 + 1e-5).all()
    maps.sum().backward()
    assert z.grad.abs().sum() > 0


def test_phrase_token_indices_from_offsets(tmp_path):
    clip = tiny_clip_tokenizer(tmp_path / "clip")
    prompt = "1 red ball moving right"
    idx = phrase_token_indices(clip, prompt, "red ball")
    ids = clip(prompt)["input_ids"]
    assert clip.decode([ids[i] for i in idx]).replace(" ", "") == "redball"
    assert idx[0] == 2  # <|startoftext|>, "1", then "r"
    t5 = tiny_t5_tokenizer(tmp_path / "t5")
    assert phrase_token_indices(t5, "two red balls moving left", "Red Ball") == [1, 2]


def test_phrase_absent_or_truncated_is_an_input_error(tmp_path):
    clip = tiny_clip_tokenizer(max_length=8)
    with pytest.raises(InputError, match="'green cube'"):
        phrase_token_indices(clip, "1 red ball moving right", "green cube")
    with pytest.raises(InputError, match="truncated"):
        phrase_token_indices(clip, "1 red ball moving right", "moving right")
    t5 = tiny_t5_tokenizer()
    assert phrase_token_indices(t5, "a red ball moving right", "right") == [4]
    with pytest.raises(InputError, match="truncated"):
        phrase_token_indices(t5, "a red ball moving right", "right", max_length=4)


def test_stop_after_ends_the_forward_at_the_last_recorded_layer():
    from worldsim.dmc.attention import StopForward

    unet = _tiny_unet3d()
    rec = AttentionRecorder([[1]])
    ran = []
    unet.conv_out.register_forward_hook(lambda *a: ran.append(True))
    with install_recorders(unet, rec, lambda n, m: n.startswith("mid_block") and m.is_cross_attention):
        rec.stop_after = 1
        with rec.recording(), pytest.raises(StopForward):
            unet(torch.randn(1, 4, 2, 8, 8), 10, encoder_hidden_states=torch.randn(1, 7, 12))
        assert len(rec.entries) == 1 and not ran
        rec.stop_after = None
        with rec.recording():
            unet(torch.randn(1, 4, 2, 8, 8), 10, encoder_hidden_states=torch.randn(1, 7, 12))
        assert len(rec.entries) == 1 and ran
