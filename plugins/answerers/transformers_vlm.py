"""`transformers-vlm`: any transformers vision-language model, by Hub id or local folder, answering from N frames.

The model is loaded on the first run() call and kept by the stage instance: config, tokenizer, the family's image processor (the PIL one;
torchvision is not needed) and AutoModelForImageTextToText. Frames are sampled evenly from the run's video
(plugins/answerers/frames.py) and sent as N images in one user turn, followed by the prompt
(plugins/answerers/prompts.py). The chat template (chat_template.jinja / chat_template.json beside the
weights, else the tokenizer's) places one image placeholder per frame; this module then does what the
family's processor would (the processors themselves need the torchvision video processors):

    qwen2_vl, qwen2_5_vl   image processor -> pixel_values, image_grid_thw; each <|image_pad|> becomes
                           grid_t*grid_h*grid_w / merge_size^2 copies; mm_token_type_ids marks them (M-RoPE)
    idefics3, smolvlm      image processor (no splitting for frames) -> pixel_values, pixel_attention_mask;
                           each <image> becomes <fake_token_around_image><global-img><image>*image_seq_len
                           <fake_token_around_image> (with row/col tiles when splitting is on)
    llava_onevision        frames as one video: resized to the vision tower's size and normalised here ->
                           pixel_values_videos [1,T,3,S,S]; the <video> placeholder becomes T*ceil(p/2)^2 + 1
                           tokens (p = S / patch, the model pools 2x2 and appends one newline embedding)
    internvl               image processor without tiling -> pixel_values [N,3,S,S]; each <IMG_CONTEXT>
                           becomes <img><IMG_CONTEXT>*image_seq_length</img>

Generation is greedy (`do_sample` off), `max_new_tokens_direct` / `max_new_tokens_cot` new tokens; the new
tokens are decoded without special tokens and returned unmodified.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from pydantic import Field

from worldsim.errors import ConfigError, MissingDependencyError
from worldsim.stages import Answerer, StageConfig
from worldsim.types import QAItem, ScoreInput

FAMILIES = {"qwen2_vl": "qwen", "qwen2_5_vl": "qwen", "idefics3": "idefics3", "smolvlm": "idefics3",
            "llava_onevision": "llava_onevision", "internvl": "internvl"}


class TransformersVLMConfig(StageConfig):
    model: str = Field(description="Hub model id (e.g. Qwen/Qwen2.5-VL-3B-Instruct) or a local folder written by save_pretrained")
    num_frames: int = Field(8, ge=1, le=64, description="frames sampled evenly from the video, first and last included")
    max_side: int | None = Field(448, ge=16, le=4096, description="longer side of each frame before the image processor (None: as generated)")
    split_images: bool = Field(False, description="idefics3/smolvlm: tile each frame as the processor does for single images")
    max_new_tokens_direct: int = Field(16, ge=1, le=32_768, description="new tokens generated in direct mode")
    max_new_tokens_cot: int = Field(384, ge=1, le=32_768, description="new tokens generated in chain-of-thought mode")
    device: str = Field("auto", description="auto (cuda when available), cpu, cuda, cuda:N")
    dtype: str = Field("auto", pattern="^(auto|float32|float16|bfloat16)$", description="auto: bfloat16 on CUDA, float32 on CPU")
    local_files_only: bool = Field(True, description="never download: the weights must be on this machine")
    trust_remote_code: bool = Field(False, description="allow model code from the checkpoint folder")


def resolve_file(model: str, name: str, local_files_only: bool) -> Path | None:
    """A file of a local folder or of a cached Hub checkpoint; None when it has no such file."""
    folder = Path(model)
    if folder.is_dir():
        return folder / name if (folder / name).is_file() else None
    from transformers.utils import cached_file

    try:
        found = cached_file(model, name, local_files_only=local_files_only, _raise_exceptions_for_missing_entries=False,
                            _raise_exceptions_for_connection_errors=False)
    except Exception:
        return None
    return Path(found) if found else None


def chat_template(model: str, tokenizer, local_files_only: bool) -> str:
    """The multimodal chat template: chat_template.jinja, chat_template.json, else the tokenizer's."""
    jinja = resolve_file(model, "chat_template.jinja", local_files_only)
    if jinja:
        return jinja.read_text()
    js = resolve_file(model, "chat_template.json", local_files_only)
    if js:
        return json.loads(js.read_text())["chat_template"]
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.chat_template
    raise ConfigError(f"answerer 'transformers-vlm': '{model}' has no chat template (chat_template.jinja, "
                      f"chat_template.json or the tokenizer's); an instruction-tuned checkpoint is needed")


def processor_settings(model: str, local_files_only: bool) -> dict:
    """processor_config.json (image_seq_len, num_image_tokens, ...), {} when absent."""
    path = resolve_file(model, "processor_config.json", local_files_only)
    return json.loads(path.read_text()) if path else {}


def _load_pretrained(who: str, what: str, model: str, local_files_only: bool, load):
    """Run `load()` (a from_pretrained call), turning a missing or unusable model into a one-line ConfigError."""
    try:
        return load()
    except OSError as exc:
        if local_files_only:
            raise ConfigError(f"{who}: {what} '{model}' is not available locally (local_files_only=True); its files must "
                              f"already be on this machine, in the Hugging Face cache or a folder written by save_pretrained") from None
        raise ConfigError(f"{who}: {what} '{model}' could not be loaded ({type(exc).__name__}: {_first_line(exc)})") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{who}: '{model}' cannot be loaded as a {what} ({type(exc).__name__}: {_first_line(exc)})") from None


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:200] if lines else ""


class TransformersVLMAnswerer(Answerer):
    name = "transformers-vlm"
    description = ("A transformers vision-language model (Qwen2-VL / Qwen2.5-VL, SmolVLM / Idefics3, LLaVA-OneVision, "
                   "InternVL) by id or path, N sampled frames, direct or chain-of-thought prompts")
    Config = TransformersVLMConfig

    def run(self, items: list[QAItem], inputs: ScoreInput, mode: str = "direct", free_form: bool = False) -> list[str]:
        from plugins.answerers.frames import load_frames
        from plugins.answerers.prompts import build_prompt, check_mode

        cfg: TransformersVLMConfig = self.config
        check_mode(mode)
        if not items:
            return []
        frames, idx, fps = load_frames(inputs, cfg.num_frames, cfg.max_side)
        seconds = (idx[-1] - idx[0]) / fps if fps and len(idx) > 1 else None
        vlm = self.loaded()
        max_new = cfg.max_new_tokens_cot if mode == "cot" else cfg.max_new_tokens_direct
        return [vlm.answer(frames, build_prompt(it, mode, free_form, len(frames), seconds), max_new) for it in items]


    def loaded(self) -> "LoadedVLM":
        """The model, loaded on the first run() call and kept by this stage instance for later calls (the scorer
        asks the same questions in several modes)."""
        if getattr(self, "_vlm", None) is None:
            self._vlm = LoadedVLM.load(self.config)
        return self._vlm


class LoadedVLM:
    """One loaded model with its tokenizer, image processor and chat template, and the family's input builder."""

    def __init__(self, cfg, config, tokenizer, image_processor, model, template: str, settings: dict, device: str):
        self.cfg, self.config, self.tokenizer, self.image_processor = cfg, config, tokenizer, image_processor
        self.model, self.template, self.settings, self.device = model, template, settings, device
        self.family = FAMILIES[config.model_type]

    @classmethod
    def load(cls, cfg: TransformersVLMConfig) -> "LoadedVLM":
        try:
            import torch
            import transformers
        except ImportError:
            raise MissingDependencyError("transformers", "answerer 'transformers-vlm'") from None
        from transformers import AutoConfig, AutoImageProcessor, AutoModelForImageTextToText, AutoTokenizer

        from worldsim.devices import quiet_loading, resolve_device, torch_dtype

        opts = {"local_files_only": cfg.local_files_only, "trust_remote_code": cfg.trust_remote_code}
        who = "answerer 'transformers-vlm'"
        load_pretrained = _load_pretrained
        config = load_pretrained(who, "vision-language model config", cfg.model, cfg.local_files_only,
                                 lambda: AutoConfig.from_pretrained(cfg.model, **opts))
        if config.model_type not in FAMILIES:
            raise ConfigError(f"{who}: '{cfg.model}' is a '{config.model_type}' model; supported families: "
                              f"{', '.join(sorted(FAMILIES))}")
        device = resolve_device(cfg.device)
        dtype = torch_dtype(cfg.dtype) if cfg.dtype != "auto" else (torch.bfloat16 if device.startswith("cuda") else torch.float32)
        tokenizer = load_pretrained(who, "tokenizer", cfg.model, cfg.local_files_only,
                                    lambda: AutoTokenizer.from_pretrained(cfg.model, **opts))
        transformers.logging.set_verbosity_error()  # the PIL image processor fallback warns on every load
        image_processor = load_pretrained(who, "image processor", cfg.model, cfg.local_files_only,
                                          lambda: AutoImageProcessor.from_pretrained(cfg.model, **opts))
        with quiet_loading():
            model = load_pretrained(who, "vision-language model", cfg.model, cfg.local_files_only,
                                    lambda: AutoModelForImageTextToText.from_pretrained(cfg.model, dtype=dtype, **opts))
        model = model.to(device).eval()
        template = chat_template(cfg.model, tokenizer, cfg.local_files_only)
        return cls(cfg, config, tokenizer, image_processor, model, template, processor_settings(cfg.model, cfg.local_files_only), device)

    def prompt_text(self, num_frames: int, prompt: str) -> str:
        kind = "video" if self.family == "llava_onevision" else "image"
        content = [{"type": "video"}] if kind == "video" else [{"type": "image"} for _ in range(num_frames)]
        messages = [{"role": "user", "content": [*content, {"type": "text", "text": prompt}]}]
        return self.tokenizer.apply_chat_template(messages, chat_template=self.template, tokenize=False, add_generation_prompt=True)

    def inputs(self, frames, prompt: str) -> dict:
        """Model inputs for frames [T,H,W,3] uint8 and the prompt text (module docstring, per family)."""
        text = self.prompt_text(len(frames), prompt)
        return getattr(self, f"_inputs_{self.family}")(frames, text)

    def _tokens(self, text: str) -> dict:
        return dict(self.tokenizer(text, return_tensors="pt", add_special_tokens=False))

    def _expand(self, text: str, token: str, replacements: list[str]) -> str:
        parts = text.split(token)
        if len(parts) - 1 != len(replacements):
            raise ConfigError(f"answerer 'transformers-vlm': the chat template of '{self.cfg.model}' placed "
                              f"{len(parts) - 1} '{token}' for {len(replacements)} frames")
        return parts[0] + "".join(r + p for r, p in zip(replacements, parts[1:]))

    def _inputs_qwen(self, frames, text: str) -> dict:
        from plugins.answerers.frames import to_pil

        token = getattr(self.tokenizer, "image_token", None) or "<|image_pad|>"
        vision = self.image_processor(images=to_pil(frames), return_tensors="pt")
        merge = int(getattr(self.image_processor, "merge_size", None) or self.config.vision_config.spatial_merge_size)
        counts = [int(g.prod()) // merge**2 for g in vision["image_grid_thw"]]
        enc = self._tokens(self._expand(text, token, [token * n for n in counts]))
        enc["mm_token_type_ids"] = (enc["input_ids"] == self.config.image_token_id).long()
        return {**enc, "pixel_values": vision["pixel_values"], "image_grid_thw": vision["image_grid_thw"]}

    def _inputs_idefics3(self, frames, text: str) -> dict:
        from plugins.answerers.frames import to_pil

        vision = self.image_processor(images=[to_pil(frames)], return_tensors="pt", return_row_col_info=True,
                                      do_image_splitting=self.cfg.split_images)
        vc = self.config.vision_config
        seq = int(self.settings.get("image_seq_len") or (vc.image_size // vc.patch_size) ** 2 // self.config.scale_factor**2)
        fake, image, glob = "<fake_token_around_image>", "<image>", "<global-img>"
        replacements = []
        for rows, cols in zip(vision["rows"][0], vision["cols"][0]):
            tiles = "".join("".join(f"{fake}<row_{r + 1}_col_{c + 1}>{image * seq}" for c in range(cols)) + "\n" for r in range(rows))
            replacements.append((tiles + "\n" if tiles else "") + f"{fake}{glob}{image * seq}{fake}")
        enc = self._tokens(self._expand(text, image, replacements))
        out = {**enc, "pixel_values": vision["pixel_values"]}
        if "pixel_attention_mask" in vision:
            out["pixel_attention_mask"] = vision["pixel_attention_mask"]
        return out

    def _inputs_llava_onevision(self, frames, text: str) -> dict:
        import numpy as np
        import torch
        from PIL import Image

        ip = self.image_processor
        size = int(self.config.vision_config.image_size)
        mean = torch.tensor(getattr(ip, "image_mean", None) or [0.5, 0.5, 0.5]).view(1, 3, 1, 1)
        std = torch.tensor(getattr(ip, "image_std", None) or [0.5, 0.5, 0.5]).view(1, 3, 1, 1)
        resized = np.stack([np.asarray(Image.fromarray(f).resize((size, size), Image.BICUBIC)) for f in frames])
        video = (torch.from_numpy(resized).permute(0, 3, 1, 2).float() / 255 - mean) / std  # [T,3,S,S]
        patches = size // int(self.config.vision_config.patch_size)
        pooled = math.ceil(patches / 2)
        count = len(frames) * pooled * pooled + 1
        token = "<video>"
        enc = self._tokens(self._expand(text, token, [token * count]))
        return {**enc, "pixel_values_videos": video[None].to(self.model.dtype)}

    def _inputs_internvl(self, frames, text: str) -> dict:
        from plugins.answerers.frames import to_pil

        vision = self.image_processor(images=to_pil(frames), return_tensors="pt", crop_to_patches=False)
        seq = int(self.settings.get("image_seq_length") or self.config.image_seq_length)
        token = "<IMG_CONTEXT>"
        n = vision["pixel_values"].shape[0] // len(frames)  # tiles per frame (1 without cropping)
        enc = self._tokens(self._expand(text, token, [f"<img>{token * seq * n}</img>"] * len(frames)))
        return {**enc, "pixel_values": vision["pixel_values"]}

    def answer(self, frames, prompt: str, max_new_tokens: int) -> str:
        import torch

        batch = self.inputs(frames, prompt)
        batch = {k: (v.to(self.device, self.model.dtype) if k.startswith("pixel_values") else v.to(self.device))
                 for k, v in batch.items()}
        with torch.no_grad():
            out = self.model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False)
        new = out[0, batch["input_ids"].shape[1]:]
        return self.tokenizer.decode(new, skip_special_tokens=True).strip()


__all__ = ["TransformersVLMAnswerer", "TransformersVLMConfig", "LoadedVLM", "FAMILIES"]
