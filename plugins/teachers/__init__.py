"""Built-in teachers: 2D supervision (features, depth, masks) for the 4D Gaussian feature-field reconstructor.

| name | target | needs |
|---|---|---|
| `label-text` | feature (384-d MiniLM) | labels.json objects + masks (offline default) |
| `label-depth` | depth | the generator's depth |
| `label-masks` | mask | labels.json objects + masks |
| `plane-depth` | depth | nothing: a crude flat-ground prior |
| `transformers-depth` | depth | local weights of a transformers depth model |
| `transformers-clip` | feature (CLIP projection dim) | local weights of a transformers CLIPModel |
| `transformers-sam` | mask (automatic, per frame) | local weights of a transformers SamModel |

The interface is written down in `plugins/teachers/base.py`; `worldsim/text.py` (core) embeds texts
in the `label-text` space for editors and answerers.
"""

from worldsim.hookspecs import hookimpl


@hookimpl
def register_teachers(register):
    from plugins.teachers.geometry import PlaneDepth
    from plugins.teachers.hf import TransformersClip, TransformersDepth
    from plugins.teachers.labels import LabelDepth, LabelMasks, LabelText
    from plugins.teachers.sam import TransformersSam

    for cls in (LabelText, LabelDepth, LabelMasks, PlaneDepth, TransformersDepth, TransformersClip,
                TransformersSam):
        register(cls)
