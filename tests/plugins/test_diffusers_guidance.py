import pytest
import torch

from worldsim.dmc.attention import AttentionRecorder, install_recorders
from worldsim.dmc.guidance import (
    DMCGuide,
    GuidanceSettings,
    box_masks,
    dmc_energy,
    guide_latents,
    instance_maps,
    recorder_energy,
    resample_boxes,
    sample,
    sigma_t,
)
from worldsim.errors import ConfigError, InputError
from worldsim.stages import Generator, StageConfig


def test_box_masks_cover_cell_centres_and_union():
    m = box_masks(torch.tensor([[0.0, 0.0, 0.5, 0.5], [0.5, 0.5, 1.0, 1.0]]), 4, 4)
    assert m.shape == (2, 4, 4)
    assert m[0, :2, :2].all() and m[0].sum() == 4
    assert m[1, 2:, 2:].all() and m[1].sum() == 4
    union = box_masks(torch.tensor([[[0.0, 0.0, 0.25, 0.25]], [[0.75, 0.75, 1.0, 1.0]]]), 4, 4)
    assert union.shape == (1, 4, 4) and union[0, 0, 0] == 1 and union[0, 3, 3] == 1 and union.sum() == 2
    tiny = box_masks(torch.tensor([[0.6, 0.6, 0.61, 0.61]]), 4, 4)
    assert tiny.sum() == 1 and tiny[0, 2, 2] == 1


def test_dmc_energy_on_hand_made_maps():
    masks = torch.zeros(2, 2, 2)
    masks[:, 0, 0] = 1
    maps = torch.tensor([[[0.5, 0.5], [0.0, 0.0]],
                         [[1.0, 0.0], [0.0, 0.0]]])
    total, per_frame, smooth = dmc_energy(maps, masks, lam=2.0)
    assert torch.allclose(per_frame, torch.tensor([0.25, 0.0]))  # (1 - 0.5)^2, (1 - 1)^2
    assert torch.isclose(smooth, torch.tensor(0.5))  # 0.5^2 + 0.5^2 over the one frame pair
    assert torch.isclose(total, torch.tensor(0.25 + 2 * 2.0 * 0.5))  # sum_i (E_i + lam T_s)
    # the ratio ignores the map's scale
    assert torch.allclose(dmc_energy(maps * 7, masks, 0.0)[1], per_frame)


def test_resample_boxes_keeps_ends():
    boxes = torch.tensor([[0.0, 0.0, 0.2, 0.2], [0.4, 0.0, 0.6, 0.2], [0.8, 0.0, 1.0, 0.2]])
    r = resample_boxes(boxes, 5)
    assert r.shape == (5, 4) and torch.allclose(r[0], boxes[0]) and torch.allclose(r[-1], boxes[-1])
    assert torch.allclose(r[1, 0], torch.tensor(0.2))


def test_sigma_t_for_vp_and_flow_matching():
    from diffusers import DDIMScheduler, FlowMatchEulerDiscreteScheduler

    ddim = DDIMScheduler()
    abar = float(ddim.alphas_cumprod[500])
    assert sigma_t(ddim, torch.tensor(500)) == pytest.approx(((1 - abar) / abar) ** 0.5)
    flow = FlowMatchEulerDiscreteScheduler()
    flow.set_timesteps(4)
    s = float(flow.sigmas[1])
    assert sigma_t(flow, flow.timesteps[1]) == pytest.approx(s / (1 - s))
    s0 = float(flow.sigmas[0])  # 0.999 here; s = 1 gives inf, which DMCGuide caps at settings.max_sigma
    assert sigma_t(flow, flow.timesteps[0]) == (pytest.approx(s0 / (1 - s0)) if s0 < 1 else float("inf"))


class _Cfg(StageConfig):
    guidance: GuidanceSettings = GuidanceSettings()


class _Stage(Generator):
    name, description, Config = "x", "x", _Cfg


def test_invalid_settings_name_the_setting():
    with pytest.raises(ConfigError, match=r"guidance\.eta"):
        _Stage({"guidance": {"eta": -1}})
    with pytest.raises(ConfigError, match=r"guidance\.steps=12 exceeds num_inference_steps=4"):
        GuidanceSettings(steps=12).validate_for(4, "a red ball", ["red ball"])
    with pytest.raises(InputError, match="'green cube'"):
        GuidanceSettings(steps=2).validate_for(4, "a red ball", ["green cube"])
    GuidanceSettings(steps=12, enabled=False).validate_for(4, "a red ball", ["red ball"])


class ToyDenoiser(torch.nn.Module):
    """One cross-attention layer on a [1, C, T, h, w] latent: positions attend to 3 text tokens."""

    def __init__(self, channels=4, text_dim=6):
        from diffusers.models.attention_processor import Attention

        super().__init__()
        torch.manual_seed(0)
        self.attn = Attention(query_dim=channels, cross_attention_dim=text_dim, heads=1, dim_head=8)
        self.text = torch.randn(1, 3, text_dim)

    def forward(self, z, t=None):
        b, c, f, h, w = z.shape
        x = z.permute(0, 2, 3, 4, 1).reshape(b * f, h * w, c)
        return self.attn(x, encoder_hidden_states=self.text.repeat(b * f, 1, 1))


def test_guidance_reduces_energy_on_a_toy_attention():
    model = ToyDenoiser()
    rec = AttentionRecorder([[1]], layout="frames-in-batch")
    install_recorders(model, rec)
    boxes = [torch.tensor([[[0.0, 0.0, 0.5, 0.5], [0.25, 0.0, 0.75, 0.5], [0.5, 0.0, 1.0, 0.5]]])]  # [1, T=3, 4]
    torch.manual_seed(1)
    z = torch.randn(1, 4, 3, 8, 8)

    def energy(latents):
        with rec.recording():
            model(latents)
            return float(recorder_energy(rec, boxes, 3, 8, 8, lam=1.0).detach())

    settings = GuidanceSettings(eta=5.0, lam=1.0, steps=1, iterations=20)
    before = energy(z)
    guided, first = guide_latents(z, model, rec, boxes, (3, 8, 8), sigma=1.0, settings=settings)
    assert first == pytest.approx(before, rel=1e-5)
    after = energy(guided)
    assert after < 0.7 * before, (before, after)
    zero, _ = guide_latents(z, model, rec, boxes, (3, 8, 8), sigma=1.0, settings=settings.model_copy(update={"eta": 0.0}))
    assert torch.equal(zero, z)


def test_sample_loop_guides_first_k_steps_and_collects_maps():
    from diffusers import DDIMScheduler

    model = ToyDenoiser()
    rec = AttentionRecorder([[1]])
    install_recorders(model, rec)
    sched = DDIMScheduler(num_train_timesteps=100)
    sched.set_timesteps(4)
    boxes = [torch.tensor([[[0.0, 0.0, 0.5, 1.0]] * 3])]
    out = {}
    for eta in (0.0, 2.0):
        guide = DMCGuide(rec, GuidanceSettings(eta=eta, steps=2, iterations=3), sched, lambda z, t: model(z),
                         boxes, (3, 8, 8))
        torch.manual_seed(0)
        z = torch.randn(1, 4, 3, 8, 8)
        # the toy layer's output is no noise prediction: run it (its attention is recorded), step with 0.1 z
        sample(sched, z, lambda z, t: (model(z), 0.1 * z)[1], guide)
        out[eta] = guide
    assert len(out[0.0].history) == 0 and [h["step"] for h in out[2.0].history] == [0, 1]
    maps = out[2.0].mean_maps()
    assert maps.shape == (1, 3, 8, 8)
    inside = box_masks(boxes[0], 8, 8)
    frac = lambda m: float((m[0] * inside).sum() / m[0].sum())
    assert frac(out[2.0].mean_maps()) > frac(out[0.0].mean_maps())


def test_instance_maps_split_a_shared_phrase_and_sum_to_one():
    phrase = torch.rand(1, 2, 4, 4)
    boxes = torch.tensor([[[0.0, 0.0, 0.5, 1.0]] * 2, [[0.5, 0.0, 1.0, 1.0]] * 2])
    m = instance_maps(phrase, boxes, [0, 0])
    assert m.shape == (2, 2, 4, 4)
    assert torch.allclose(m.flatten(2).sum(-1), torch.ones(2, 2))
    assert (m[0, :, :, 2:] == 0).all() and (m[1, :, :, :2] == 0).all()
