"""Built-in plugin: diffusers video generators with Mojito directional motion control (attention guidance)."""

from worldsim.hookspecs import hookimpl


@hookimpl
def register_generators(register):
    from plugins.diffusers_video.animatediff import AnimateDiffGenerator
    from plugins.diffusers_video.cogvideox import CogVideoXGenerator
    from plugins.diffusers_video.cosmos import CosmosGenerator
    from plugins.diffusers_video.wan import WanGenerator

    for stage in [AnimateDiffGenerator, CogVideoXGenerator, WanGenerator, CosmosGenerator]:
        register(stage)
