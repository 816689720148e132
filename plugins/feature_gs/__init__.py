"""Built-in plugin: the `feature-4dgs` reconstructor (dynamic Gaussians with a language feature field)."""

from worldsim.hookspecs import hookimpl


@hookimpl
def register_reconstructors(register):
    from plugins.feature_gs.stage import FeatureGSReconstructor

    register(FeatureGSReconstructor)
