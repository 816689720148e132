"""transformers-vlm answerer end to end with tiny random vision-language models built offline (tiny configs, a
word-level tokenizer from the `tokenizers` library with a chat template, the family's PIL image processor),
saved with save_pretrained and loaded back by path through the answerer's real loading code. Accuracy is
meaningless here; the path is what is tested. A real checkpoint runs in the gpu-marked test."""

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from plugins.answerers.transformers_vlm import LoadedVLM, TransformersVLMAnswerer, TransformersVLMConfig
from worldsim.errors import ConfigError, InputError
from worldsim.types import QAItem, ScoreInput

WORDS = ("a an the is are what which how many direction moving rotating left right up down not to and of in video "
         "images frames frame one time order spanning seconds camera does move answer with option's letter only "
         "think step by step find object follow it from first last then decide end line form few words clockwise "
         "counter there no ball cube red blue green car 0 1 2 3 4 5 6 7 8 9 A B C D . , : ; ? ( ) ' - < > user assistant").split()


def tiny_tokenizer(special: list[str], template: str):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab: dict[str, int] = {}
    for w in ["<unk>", "<pad>", "<eos>", "<bos>", "\n", *special, *WORDS]:
        vocab.setdefault(w, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()])
    tok.decoder = decoders.WordPiece(prefix="##")
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", pad_token="<pad>", eos_token="<eos>",
                                   bos_token="<bos>", additional_special_tokens=special)
    fast.chat_template = template
    return fast


def template(image: str, start: str = "<|im_start|>", end: str = "<|im_end|>") -> str:
    """A chat template of the Qwen / SmolVLM shape: image entries render as `image`, text as itself."""
    return ("{% for m in messages %}" + start + "{{ m['role'] }}\n{% if m['content'] is string %}{{ m['content'] }}{% else %}"
            "{% for c in m['content'] %}{% if c['type'] == 'image' %}" + image + "{% elif c['type'] == 'video' %}<video>"
            "{% elif c['type'] == 'text' %}{{ c['text'] }}{% endif %}{% endfor %}{% endif %}" + end + "\n{% endfor %}"
            "{% if add_generation_prompt %}" + start + "assistant\n{% endif %}")


def save_template(path: Path, text: str) -> None:
    (path / "chat_template.jinja").write_text(text)


def text_config(tok, **extra) -> dict:
    return dict(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                num_key_value_heads=2, max_position_embeddings=8192, bos_token_id=tok.bos_token_id,
                eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, **extra)


def build_qwen2_vl(path: Path, version: str = "2") -> Path:
    import transformers

    special = ["<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"]
    chat = template("<|vision_start|><|image_pad|><|vision_end|>")
    tok = tiny_tokenizer(special, chat)
    ids = {t: tok.convert_tokens_to_ids(t) for t in special}
    Config = transformers.Qwen2VLConfig if version == "2" else transformers.Qwen2_5_VLConfig
    Model = transformers.Qwen2VLForConditionalGeneration if version == "2" else transformers.Qwen2_5_VLForConditionalGeneration
    vision = dict(depth=1, hidden_size=32, num_heads=2, patch_size=14, spatial_merge_size=2, temporal_patch_size=2, in_channels=3)
    vision.update(embed_dim=32) if version == "2" else vision.update(intermediate_size=64, out_hidden_size=32, fullatt_block_indexes=[0])
    cfg = Config(text_config=text_config(tok, rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 1, 1]}),
                 vision_config=vision, image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
                 vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"])
    torch.manual_seed(0)
    Model(cfg).eval().save_pretrained(path)
    tok.save_pretrained(path)
    transformers.Qwen2VLImageProcessor(min_pixels=56 * 56, max_pixels=56 * 56 * 4).save_pretrained(path)
    save_template(path, chat)
    return path


def build_smolvlm(path: Path) -> Path:
    import transformers

    special = ["<|im_start|>", "<end_of_utterance>", "<fake_token_around_image>", "<image>", "<global-img>",
               *(f"<row_{r}_col_{c}>" for r in range(1, 7) for c in range(1, 7))]
    chat = template("<image>", start="<|im_start|>", end="<end_of_utterance>")
    tok = tiny_tokenizer(special, chat)
    cfg = transformers.SmolVLMConfig(
        text_config=dict(model_type="llama", **text_config(tok, rope_parameters={"rope_type": "default", "rope_theta": 10000.0})),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2, image_size=32, patch_size=8),
        scale_factor=2, image_token_id=tok.convert_tokens_to_ids("<image>"))
    torch.manual_seed(0)
    transformers.SmolVLMForConditionalGeneration(cfg).eval().save_pretrained(path)
    tok.save_pretrained(path)
    transformers.SmolVLMImageProcessor(size={"longest_edge": 64}, max_image_size={"longest_edge": 32},
                                       do_image_splitting=False).save_pretrained(path)
    save_template(path, chat)
    (path / "processor_config.json").write_text(json.dumps({"image_seq_len": 4}))  # (32/8)^2 / 2^2
    return path


def build_llava_onevision(path: Path) -> Path:
    import transformers

    special = ["<|im_start|>", "<|im_end|>", "<image>", "<video>"]
    chat = template("<image>")
    tok = tiny_tokenizer(special, chat)
    cfg = transformers.LlavaOnevisionConfig(
        text_config=dict(model_type="qwen2", **text_config(tok)),
        vision_config=dict(model_type="siglip_vision_model", hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                           num_attention_heads=2, image_size=32, patch_size=8),
        vision_feature_select_strategy="full", vision_feature_layer=-1,
        image_token_index=tok.convert_tokens_to_ids("<image>"), video_token_index=tok.convert_tokens_to_ids("<video>"))
    torch.manual_seed(0)
    transformers.LlavaOnevisionForConditionalGeneration(cfg).eval().save_pretrained(path)
    tok.save_pretrained(path)
    transformers.LlavaOnevisionImageProcessor(size={"height": 32, "width": 32}).save_pretrained(path)
    save_template(path, chat)
    return path


def build_internvl(path: Path) -> Path:
    import transformers

    special = ["<|im_start|>", "<|im_end|>", "<img>", "</img>", "<IMG_CONTEXT>"]
    chat = template("<IMG_CONTEXT>")
    tok = tiny_tokenizer(special, chat)
    cfg = transformers.InternVLConfig(
        text_config=dict(model_type="qwen2", **text_config(tok)),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                           image_size=[32, 32], patch_size=[8, 8]),
        image_token_id=tok.convert_tokens_to_ids("<IMG_CONTEXT>"), image_seq_length=4, downsample_ratio=0.5)
    torch.manual_seed(0)
    transformers.InternVLForConditionalGeneration(cfg).eval().save_pretrained(path)
    tok.save_pretrained(path)
    transformers.GotOcr2ImageProcessor(size={"height": 32, "width": 32}, crop_to_patches=False).save_pretrained(path)
    save_template(path, chat)
    return path


BUILDERS = {"qwen2_vl": build_qwen2_vl, "qwen2_5_vl": lambda p: build_qwen2_vl(p, "2.5"), "smolvlm": build_smolvlm,
            "llava_onevision": build_llava_onevision, "internvl": build_internvl}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    from worldsim.testing import tiny_clip, tiny_plan

    run_dir = tmp_path_factory.mktemp("run")
    video, _, _ = tiny_clip(run_dir / "generator", num_frames=6)
    return ScoreInput(run_dir=str(run_dir), plan=tiny_plan(), seed=0, video=video)


ITEMS = [
    QAItem(id="q0", video="v.mp4", question_type="translational", question="What direction is the red ball moving?",
           choices={"A": "moving left", "B": "moving right", "C": "not moving", "D": "there is no red ball"}, answer="B",
           free_form="In which direction is the red ball moving in the video?"),
    QAItem(id="q1", video="v.mp4", question_type="counting", question="How many balls are moving to the left?",
           choices={"A": "0", "B": "1", "C": "2", "D": "3"}, answer="A", free_form="How many balls are moving to the left?"),
]


@pytest.mark.parametrize("family", sorted(BUILDERS))
def test_tiny_model_answers_every_question_by_path(family, tmp_path, inputs, monkeypatch):
    path = BUILDERS[family](tmp_path / family)
    loads = []
    real_load = LoadedVLM.load
    monkeypatch.setattr(LoadedVLM, "load", classmethod(lambda cls, cfg: loads.append(cfg.model) or real_load.__func__(cls, cfg)))
    stage = TransformersVLMAnswerer({"model": str(path), "num_frames": 3, "max_side": 32, "max_new_tokens_direct": 4,
                                     "max_new_tokens_cot": 6})
    for mode in ("direct", "cot"):
        for free_form in (False, True):
            answers = stage.run(ITEMS, inputs, mode=mode, free_form=free_form)
            assert len(answers) == 2 and all(isinstance(a, str) for a in answers)
    assert loads == [str(path)]  # once for the stage instance, not per call or question


def test_inputs_carry_one_placeholder_run_per_frame(tmp_path):
    qwen = LoadedVLM.load(TransformersVLMConfig(model=str(build_qwen2_vl(tmp_path / "q"))))
    frames = np.random.default_rng(0).integers(0, 255, (3, 56, 56, 3), dtype=np.uint8)
    batch = qwen.inputs(frames, "What direction is the red ball moving?")
    grid = batch["image_grid_thw"]
    assert grid.shape == (3, 3)
    n_image = int((batch["input_ids"] == qwen.config.image_token_id).sum())
    assert n_image == int(grid.prod(dim=1).sum()) // 4 and int(batch["mm_token_type_ids"].sum()) == n_image
    assert int((batch["input_ids"] == qwen.config.vision_start_token_id).sum()) == 3
    assert "red ball" in qwen.tokenizer.decode(batch["input_ids"][0])
    # The frames reach the model: other pixels, other next-token logits.
    with torch.no_grad():
        logits = qwen.model(**batch).logits[0, -1]
        other = qwen.model(**qwen.inputs(255 - frames, "What direction is the red ball moving?")).logits[0, -1]
    assert not torch.allclose(logits, other)

    smol = LoadedVLM.load(TransformersVLMConfig(model=str(build_smolvlm(tmp_path / "s"))))
    batch = smol.inputs(frames, "How many balls?")
    image_id = smol.tokenizer.convert_tokens_to_ids("<image>")
    assert int((batch["input_ids"] == image_id).sum()) == 3 * 4  # 3 frames x image_seq_len
    assert batch["pixel_values"].shape[:2] == (1, 3)

    llava = LoadedVLM.load(TransformersVLMConfig(model=str(build_llava_onevision(tmp_path / "l"))))
    batch = llava.inputs(frames, "How many balls?")
    video_id = llava.tokenizer.convert_tokens_to_ids("<video>")
    assert int((batch["input_ids"] == video_id).sum()) == 3 * 2 * 2 + 1  # frames x pooled (4/2)^2 patches + newline
    assert batch["pixel_values_videos"].shape == (1, 3, 3, 32, 32)

    intern = LoadedVLM.load(TransformersVLMConfig(model=str(build_internvl(tmp_path / "i"))))
    batch = intern.inputs(frames, "How many balls?")
    assert int((batch["input_ids"] == intern.config.image_token_id).sum()) == 3 * 4
    assert int((batch["input_ids"] == intern.tokenizer.convert_tokens_to_ids("<img>")).sum()) == 3


def test_errors_name_the_model(tmp_path, inputs):
    with pytest.raises(ConfigError, match="not available locally"):
        TransformersVLMAnswerer({"model": str(tmp_path / "nothing-here")}).run(ITEMS, inputs)
    with pytest.raises(InputError, match="unknown prompt mode"):
        TransformersVLMAnswerer({"model": "x"}).run(ITEMS, inputs, mode="slow")
    text_only = tmp_path / "bert"
    from transformers import BertConfig

    BertConfig(hidden_size=8, num_hidden_layers=1, num_attention_heads=1, intermediate_size=8).save_pretrained(text_only)
    with pytest.raises(ConfigError, match="'bert' model; supported families"):
        TransformersVLMAnswerer({"model": str(text_only)}).run(ITEMS, inputs)
    assert TransformersVLMAnswerer({"model": "x"}).run([], inputs) == []


def test_registered():
    from worldsim.registry import get_stage_info

    assert get_stage_info("answerer", "transformers-vlm").cls is TransformersVLMAnswerer


@pytest.mark.gpu
def test_real_checkpoint_answers_on_gpu(inputs):
    """WORLDSIM_VLM_MODEL: a cached Hub id or local folder of a real instruction-tuned VLM (e.g. Qwen/Qwen2.5-VL-3B-Instruct)."""
    model = os.environ.get("WORLDSIM_VLM_MODEL")
    if not torch.cuda.is_available() or not model:
        pytest.skip("needs CUDA and WORLDSIM_VLM_MODEL (a cached checkpoint id or folder)")
    stage = TransformersVLMAnswerer({"model": model, "device": "cuda", "num_frames": 4})
    direct = stage.run(ITEMS, inputs)
    assert all(a.strip() for a in direct)
    from plugins.vlm4d_qa.judge import extract_letter

    assert all(extract_letter(a, it.choices)[0] is not None for a, it in zip(direct, ITEMS)), direct
    assert all(a.strip() for a in stage.run(ITEMS, inputs, mode="cot"))
