"""Built-in plugin: question answerers (stage kind `answerer`).

`field-4d` answers from the reconstructed 4D feature field, without a model; `openai-compatible` asks a
multimodal chat model at an OpenAI-compatible endpoint; `transformers-vlm` runs a transformers vision-language
model by id or local path.

Entry point (pyproject.toml, group `worldsim`): `answerers = "plugins.answerers"`.
"""

from worldsim.hookspecs import hookimpl


@hookimpl
def register_answerers(register):
    from plugins.answerers.field4d import Field4DAnswerer

    from plugins.answerers.openai_compatible import OpenAICompatibleAnswerer

    register(Field4DAnswerer)
    from plugins.answerers.transformers_vlm import TransformersVLMAnswerer

    register(OpenAICompatibleAnswerer)
    register(TransformersVLMAnswerer)
