"""Built-in plugin: the `feature-field` editor (select Gaussians by language, then recolor / extract / remove).

Entry point (pyproject.toml, group `worldsim`): `feature-field = "plugins.feature_field_editor"`.
"""

from worldsim.hookspecs import hookimpl


@hookimpl
def register_editors(register):
    from plugins.feature_field_editor.stage import FeatureFieldEditor

    register(FeatureFieldEditor)
