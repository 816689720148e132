"""Directional Motion Control (Mojito): steer a video diffusion model's object attention into planned boxes.

- `worldsim.dmc.attention`: record the attention of latent positions to an object phrase's text tokens
  (wrapped diffusers attention processors, gradients intact).
- `worldsim.dmc.guidance`: the DMC energy, the latent update, `DMCGuide` for diffusers pipelines and
  hand-written sampling loops, and per-instance attention maps.

Shared by every text-to-video generator that guides motion (the diffusers backbones, tiny-t2v). torch is
imported inside the functions; nothing here imports diffusers.
"""
