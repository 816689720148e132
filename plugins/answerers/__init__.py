"""Built-in plugin: question answerers (stage kind `answerer`).

`field-4d` answers from the reconstructed 4D feature field, without a model.

Entry point (pyproject.toml, group `worldsim`): `answerers = "plugins.answerers"`.
"""

from worldsim.hookspecs import hookimpl


@hookimpl
def register_answerers(register):
    from plugins.answerers.field4d import Field4DAnswerer

    register(Field4DAnswerer)
