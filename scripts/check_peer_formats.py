"""Run peers' OWN code on a worldsim dataset folder and report what it measures.

worldsim's batch exports are meant to be read by other projects' code unchanged. This script takes local
checkouts of those projects and runs their loaders/evaluators, importing their modules (never copying their
code), against a dataset folder written by `worldsim batch SPEC --out DIR`:

VLM4D (https://github.com/ShijieZhou-UCLA/VLM4D), with --vlm4d-repo:
  1. copies the dataset to a temp dir, serves the copy over HTTP on 127.0.0.1 and re-exports its vlm4d files
     with `--video-base-url` pointing at that server (the input folder is never modified);
  2. for every question of every vlm4d_<split>.json calls their `utils.video_process.download_video` (checks
     the downloaded bytes equal our mp4) and `utils.prepare_input.prepare_qa_text_input` with their CoT prompt,
     and decodes a few videos with their `read_video`;
  3. writes answer files like their inference modules do (the query records plus "response") for the answerers
     oracle, always-A and random (seeded) into outputs/<split-file-stem>_cot/<answerer>.json;
  4. runs their acc_evaluation.py unchanged, with ONLY the LLM judge replaced: a local stub of
     `utils.api_utils.generate_from_openai_chat_completion_structured_format` reads the options, the ground
     truth and the response from each evaluation message and returns their EvaluationOutput (no network);
  5. runs their acc_final_statistics.py unchanged on the evaluated files (placed in both of the folders it
     reads) and reads its CSV;
  6. checks the accuracies it reports against what each answerer must score, and that their `is_fp` puts
     exactly our task == "false_positive" questions in the FP bucket.

LLaVA-NeXT (https://github.com/LLaVA-VL/LLaVA-NeXT), with --llava-next-repo:
  imports their llava.train.train (stubbing only the training/model modules that fail to import here: they are
  listed in the output), builds their DataArguments the way their LLaVA-Video training scripts do (video_folder
  = the dataset folder, frames_upbound 32, force_sample, add_time_instruction, the qwen_1_5 conversation), and
  calls their LazySupervisedDataset._get_item on EVERY sample of every llava_video_<split>.json: file reading,
  the video_folder join, decord video reading, <image> handling and Qwen conversation preprocessing. The
  tokenizer is a real `transformers` fast tokenizer built offline (byte-level BPE with no merges, the 256 byte
  tokens in GPT-2/Qwen2 order so "\\n" is id 198 as their preprocess_qwen assumes, plus the Qwen chat tokens);
  the image processor is a stub that turns the decoded frames into a tensor. _get_item silently falls back to
  the next sample when a video cannot be read, so each returned id is compared with the sample's id.

Getting the peers' code:
  git clone https://github.com/ShijieZhou-UCLA/VLM4D
  git clone https://github.com/LLaVA-VL/LLaVA-NeXT
Their extra dependencies go in a throwaway folder that is appended to sys.path AFTER this environment's
site-packages (so it never shadows torch, transformers, ...), e.g.
  .venv/bin/pip install --target /tmp/peerdeps aiolimiter anthropic aiohttp python-dotenv decord av
  (opencv-python-headless too if cv2 is missing)
Usage:
  python scripts/check_peer_formats.py --dataset DIR [--vlm4d-repo P] [--llava-next-repo P] [--deps D] [--json]
Exit status 1 if any check fails. Not a pytest test: the peers' code is not available in CI.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import functools
import importlib
import importlib.machinery
import io
import json
import os
import random
import re
import runpy
import shutil
import sys
import tempfile
import threading
import types
from collections import Counter
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

# pip distribution for an import name, when they differ
PIP_NAMES = {"cv2": "opencv-python-headless", "dotenv": "python-dotenv", "PIL": "pillow", "yaml": "pyyaml"}
ANSWERERS = ("oracle", "always-A", "random")
LLAVA_FRAMES_UPBOUND = 32  # as in LLaVA-NeXT's scripts/video/train/*.sh


class MissingDependency(Exception):
    pass


def require(modules: tuple[str, ...], deps: str | None) -> None:
    """Raise one MissingDependency naming every module of `modules` that does not import, with the pip command."""
    missing = []
    for module in modules:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            missing.append(PIP_NAMES.get((exc.name or module).split(".")[0], (exc.name or module).split(".")[0]))
    if missing:
        target = deps or "/tmp/peerdeps"
        raise MissingDependency(f"missing dependencies {', '.join(missing)}: run `pip install --target {target} "
                                f"{' '.join(dict.fromkeys(missing))}` and pass --deps {target}")


@contextlib.contextmanager
def peer_environment(repo: Path, workdir: Path, deps: str | None, env: dict[str, str] | None = None):
    """The peer repo first on sys.path, the deps folder last, cwd = workdir; all restored afterwards, and the
    peer's modules (and our stand-ins for them) dropped from sys.modules. Other modules stay loaded:
    extension modules such as torch cannot be imported twice."""
    saved_path, saved_cwd, saved_modules = list(sys.path), os.getcwd(), set(sys.modules)
    saved_env = {k: os.environ.get(k) for k in (env or {})}
    sys.path.insert(0, str(repo))
    if deps:
        sys.path.append(str(Path(deps).resolve()))
    os.environ.update(env or {})
    workdir.mkdir(parents=True, exist_ok=True)
    os.chdir(workdir)
    try:
        yield
    finally:
        os.chdir(saved_cwd)
        sys.path[:] = saved_path
        # with the repo first on sys.path, new modules under its top-level names came from it
        top_level = {entry.stem for entry in repo.iterdir()}
        for name in set(sys.modules) - saved_modules:
            if name.split(".")[0] in top_level or getattr(sys.modules[name], "__dict__", {}).get("__peer_stub__"):
                del sys.modules[name]
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def captured(log: Path):
    """Send the peer code's prints and progress bars to a log file."""
    with open(log, "a") as fh, contextlib.redirect_stdout(fh), contextlib.redirect_stderr(fh):
        yield


# ----------------------------------------------------------------------------------------------- VLM4D

def serve(directory: Path) -> tuple[ThreadingHTTPServer, str]:
    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(directory)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def letter_of(query: dict) -> str | None:
    """The choice letter whose text equals the answer text (None unless exactly one does)."""
    letters = [k for k, v in query["choices"].items() if v == query["answer"]]
    return letters[0] if len(letters) == 1 else None


def respond(answerer: str, query: dict, rng: random.Random) -> str:
    letter = {"oracle": lambda: letter_of(query) or "A", "always-A": lambda: "A",
              "random": lambda: rng.choice(sorted(query["choices"]))}[answerer]()
    return f"Looking at the video step by step, I compare each option with what happens. Therefore, the final answer is: {letter}"


def make_stub_judge(calls: list):
    """An async stand-in for VLM4D's generate_from_openai_chat_completion_structured_format (same signature):
    reads the message their prepare_evaluation_message built instead of asking an LLM."""

    async def judge(client, messages, engine_name: str, structured_format, temperature: float = 1.0,
                    max_tokens: int = 512, top_p: float = 1.0, requests_per_minute: int = 100):
        outputs = []
        for message in messages:
            calls.append(engine_name)
            user = next(m["content"] for m in message if m["role"] == "user")
            parts = re.search(r"\n\nOptions:\n(.*?)\n\nGround Truth Answer: (.*?)\n\nModel Response to the Question: (.*)\Z",
                              user, re.S)
            if parts is None:
                outputs.append(None)  # what their real function returns for a failed request
                continue
            options = dict(re.findall(r"^([A-Z]): (.*)$", parts.group(1), re.M))
            truth, response = parts.group(2), parts.group(3)
            stated = re.findall(r"final answer is:?\s*\$?\(?([A-Z])\b", response)
            if not stated or stated[-1] not in options:
                outputs.append(structured_format(extracted_answer="No Valid Answer", correct=False))
                continue
            letter = stated[-1]
            outputs.append(structured_format(extracted_answer=f"{letter}: {options[letter]}",
                                             correct=options[letter] == truth))
        return outputs

    return judge


def logged_accuracies(log_text: str, output_dir: str) -> dict[str, float]:
    """'Accuracy of FILE: X' lines of acc_evaluation's log section for output_dir."""
    section = log_text.split(f"Evaluating output directory: {output_dir}\n")[-1].split("Evaluating output directory:")[0]
    return {m.group(1): float(m.group(2)) for m in re.finditer(r"^Accuracy of (.+?): ([0-9.eE+-]+)$", section, re.M)}


def check_vlm4d(repo: Path, dataset: Path, deps: str | None, tmp: Path) -> dict:
    result: dict = {"repo": str(repo), "errors": [], "splits": {}}
    errors = result["errors"]
    copy_dir, work = tmp / "vlm4d_dataset_copy", tmp / "vlm4d_work"
    shutil.copytree(dataset, copy_dir)
    server, base_url = serve(copy_dir)
    result["video_base_url"] = base_url
    log = tmp / "vlm4d_peer_output.log"
    result["peer_log"] = str(log)
    try:
        from worldsim.batch import export_dataset

        export_dataset(copy_dir, formats=["vlm4d"], video_base_url=base_url)
        env = {"OPENAI_API_KEY": "dummy-key-not-used", "OPENAI_BASE_URL": "http://127.0.0.1:9/unused"}
        with peer_environment(repo, work, deps, env):
            require(("cv2", "requests", "PIL", "tqdm", "aiohttp", "aiolimiter", "openai", "anthropic", "pydantic",
                     "dotenv", "pandas"), deps)
            from utils.constant import COT_PROMPT
            from utils.prepare_input import prepare_qa_text_input
            from utils.video_process import download_video, read_video
            import utils.api_utils as api_utils

            calls: list = []
            api_utils.generate_from_openai_chat_completion_structured_format = make_stub_judge(calls)
            import utils.eval_utils as eval_utils  # binds the stub: `from utils.api_utils import ...`
            assert eval_utils.generate_from_openai_chat_completion_structured_format is api_utils.generate_from_openai_chat_completion_structured_format

            split_files = sorted(copy_dir.glob("vlm4d_*.json"))
            if not split_files:
                errors.append("no vlm4d_<split>.json in the dataset")
            downloaded: dict[str, bool] = {}  # url -> bytes equal to our mp4
            expected_by_stem: dict[str, dict[str, list[bool]]] = {}
            frames_read: dict[str, int] = {}
            ours_fp_total = 0
            for split_file in split_files:
                stem = split_file.stem
                queries = json.loads(split_file.read_text())
                info = result["splits"][stem] = {"questions": len(queries), "tasks": dict(Counter(q.get("task") for q in queries))}
                ours_fp_total += info["tasks"].get("false_positive", 0)
                prompts_ok = 0
                for query in queries:
                    url = query["video"]
                    try:
                        with captured(log):
                            path, _ = download_video(url)
                        if not url.startswith(base_url + "/"):
                            raise ValueError(f"video is not under the base URL: {url}")
                        equal = Path(path).read_bytes() == (dataset / url[len(base_url) + 1:]).read_bytes()
                        downloaded[url] = equal
                        if not equal:
                            raise ValueError(f"downloaded bytes differ from our mp4 for {url}")
                        with captured(log):
                            _, text = prepare_qa_text_input("oracle", query, COT_PROMPT)
                        if query["question"] not in text or any(f"{k}: {v}" not in text for k, v in query["choices"].items()):
                            raise ValueError(f"prompt lacks the question or a choice: {query['id']}")
                        prompts_ok += 1
                        if len(frames_read) < 3 and url not in frames_read:
                            frames, _duration = read_video(path, 10)
                            frames_read[url] = len(frames)
                    except Exception as exc:  # noqa: BLE001 - every failure is a finding
                        errors.append(f"{stem} {query.get('id')}: {type(exc).__name__}: {exc}")
                info["prompts_built"] = prompts_ok
                info["answer_letters"] = dict(sorted(Counter(letter_of(q) or "?" for q in queries).items()))
                no_letter = [q["id"] for q in queries if letter_of(q) is None]
                if no_letter:
                    errors.append(f"{stem}: {len(no_letter)} answers match no single choice text, e.g. {no_letter[0]}")
                rng = random.Random(0)
                out_dir = Path("outputs") / f"{stem}_cot"
                out_dir.mkdir(parents=True, exist_ok=True)
                expected = {}
                for answerer in ANSWERERS:
                    answered = [{**q, "response": respond(answerer, q, rng)} for q in queries]
                    (out_dir / f"{answerer}.json").write_text(json.dumps(answered, indent=4, ensure_ascii=False))
                    expected[answerer] = [q["choices"].get(a["response"][-1]) == q["answer"] for q, a in zip(queries, answered)]
                info["expected_correct"] = {a: sum(v) for a, v in expected.items()}
                expected_by_stem[stem] = expected

                # their evaluator, unchanged but for the judge
                saved_argv = sys.argv
                sys.argv = ["acc_evaluation.py", "--output_dir", str(out_dir), "--eval_dir", "processed_outputs"]
                try:
                    with captured(log):
                        runpy.run_path(str(repo / "acc_evaluation.py"), run_name="__main__")
                finally:
                    sys.argv = saved_argv
                accuracies = logged_accuracies(Path("processed_outputs/evaluation_results.txt").read_text(), str(out_dir))
                info["acc_evaluation_accuracy"] = {a: accuracies.get(f"{a}.json") for a in ANSWERERS}
                for answerer in ANSWERERS:
                    want = sum(expected[answerer]) / len(queries) if queries else None
                    got = info["acc_evaluation_accuracy"][answerer]
                    if got is None or want is None or abs(got - want) > 1e-9:
                        errors.append(f"{stem} {answerer}: acc_evaluation accuracy {got}, expected {want}")
            result["judge_calls"] = len(calls)
            if not calls:
                errors.append("the stub judge was never called")
            result["videos_downloaded"] = len(downloaded)
            result["videos_bytes_equal"] = sum(downloaded.values())
            result["read_video_frames"] = list(frames_read.values())

            # their final statistics, on files named <split-stem>__<answerer>.json in both folders it reads
            for folder in ("real_mc_cot", "synthetic_mc_cot"):
                Path("processed_outputs", folder).mkdir(parents=True, exist_ok=True)
            for stem in result["splits"]:
                for answerer in ANSWERERS:
                    evaluated = Path("processed_outputs", f"{stem}_cot", f"{answerer}.json")
                    if evaluated.exists():
                        for folder in ("real_mc_cot", "synthetic_mc_cot"):
                            shutil.copy(evaluated, Path("processed_outputs", folder, f"{stem}__{answerer}.json"))
            with captured(log):
                stats = runpy.run_path(str(repo / "acc_final_statistics.py"), run_name="__main__")
            with open("csv_final_results/final_accuracy_table_cot.csv", newline="") as fh:
                rows = {row["Model (JSON File)"]: row for row in csv.DictReader(fh)}
            is_fp = stats["is_fp"]
            their_fp_total = 0
            for stem, info in result["splits"].items():
                queries = json.loads((copy_dir / f"{stem}.json").read_text())
                fp = [is_fp(q["answer"]) for q in queries]
                ours = [q.get("task") == "false_positive" for q in queries]
                info["their_is_fp_count"], info["our_false_positive_count"] = sum(fp), sum(ours)
                their_fp_total += sum(fp)
                if fp != ours:
                    errors.append(f"{stem}: their is_fp bucket ({sum(fp)}) differs from our false_positive questions ({sum(ours)})")
                expected = expected_by_stem[stem]
                info["final_statistics"] = {}
                for answerer in ANSWERERS:
                    row = rows.get(f"{stem}__{answerer}.json")
                    if row is None:
                        errors.append(f"{stem} {answerer}: no row in final_accuracy_table_cot.csv")
                        continue
                    got = {"directional": float(row["Synthetic Directional Accuracy (%)"]),
                           "fp": float(row["Synthetic FP Accuracy (%)"]),
                           "overall": float(row["Synthetic Overall Accuracy (%)"])}
                    info["final_statistics"][answerer] = got
                    right = expected[answerer]
                    for key, picked in (("directional", [not f for f in fp]), ("fp", fp), ("overall", [True] * len(fp))):
                        n = sum(picked)
                        want = round(sum(r for r, p in zip(right, picked) if p) / n * 100, 2) if n else 0
                        if abs(got[key] - want) > 1e-6:
                            errors.append(f"{stem} {answerer}: final statistics {key} {got[key]}%, expected {want}%")
            result["their_is_fp_total"], result["our_false_positive_total"] = their_fp_total, ours_fp_total
    except MissingDependency as exc:
        errors.append(str(exc))
    except Exception as exc:  # noqa: BLE001
        errors.append(f"{type(exc).__name__}: {exc}")
    finally:
        server.shutdown()
        server.server_close()
    result["ok"] = not errors
    return result


# ------------------------------------------------------------------------------------------ LLaVA-NeXT

def byte_level_tokenizer():
    """A real transformers fast tokenizer, built offline: byte-level BPE without merges over the 256 byte
    symbols in GPT-2/Qwen2 order (so "\\n" is 198, which their preprocess_qwen unmasks by id), plus Qwen's chat
    tokens. Two transformers-4 behaviours that LLaVA-NeXT (pinned to transformers 4.x) relies on are restored:
    `additional_special_tokens_ids` and apply_chat_template returning a plain list of ids."""
    import transformers
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    printable = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    rest = [b for b in range(256) if b not in printable]
    symbols = [chr(b) for b in printable] + [chr(256 + i) for i in range(len(rest))]
    backend = Tokenizer(models.BPE(vocab={s: i for i, s in enumerate(symbols)}, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    backend.decoder = decoders.ByteLevel()

    class Transformers4Tokenizer(transformers.PreTrainedTokenizerFast):
        chat_tokens = ("<|im_start|>", "<|im_end|>")

        @property
        def additional_special_tokens_ids(self):
            return self.convert_tokens_to_ids(list(self.chat_tokens))

        def apply_chat_template(self, conversation, *args, **kwargs):
            kwargs.setdefault("return_dict", False)
            return super().apply_chat_template(conversation, *args, **kwargs)

    tok = Transformers4Tokenizer(tokenizer_object=backend, eos_token="<|endoftext|>", pad_token="<|endoftext|>",
                                 additional_special_tokens=list(Transformers4Tokenizer.chat_tokens))
    assert tok("\n").input_ids == [198]
    return tok


class FramesProcessor:
    """Stands in for the vision tower's image processor: the decoded frames as a (T, 3, H, W) float tensor."""
    image_mean = (0.5, 0.5, 0.5)
    crop_size = {"height": 384, "width": 384}

    def preprocess(self, frames, return_tensors="pt"):
        import numpy as np
        import torch

        array = np.stack([np.asarray(f) for f in frames])
        return {"pixel_values": torch.from_numpy(array).permute(0, 3, 1, 2).float() / 255.0}


def stub_unimportable(names: list[str], log: Path) -> list[dict]:
    """Import each module for real; replace the ones that fail with empty stand-ins. Returns what was stubbed."""
    stubbed = []
    for name in names:
        try:
            with captured(log):
                importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - whatever stops it importing here
            # drop what the failed import left half-done (for llava.*: the whole package), but not earlier stubs
            prefix = "llava" if name.startswith("llava.") else name
            done = {s["module"] for s in stubbed}
            for loaded in [m for m in sys.modules if (m == prefix or m.startswith(prefix + ".")) and m not in done]:
                del sys.modules[loaded]
            stub = types.ModuleType(name)
            # a spec but no distribution metadata: accelerate/transformers then see the package as absent
            stub.__spec__ = importlib.machinery.ModuleSpec(name, loader=None)
            stub.__all__ = []
            stub.__peer_stub__ = True
            stub.__doc__ = f"stub: {type(exc).__name__}: {exc}"
            if name == "llava.model":
                stub.LlavaLlamaForCausalLM = None  # llava/__init__.py imports it
            if name == "llava.train.llava_trainer":
                stub.LLaVATrainer = object
            sys.modules[name] = stub
            stubbed.append({"module": name, "reason": f"{type(exc).__name__}: {exc}"})
    return stubbed


def check_llava_next(repo: Path, dataset: Path, deps: str | None, tmp: Path) -> dict:
    result: dict = {"repo": str(repo), "errors": [], "splits": {}}
    errors = result["errors"]
    log = tmp / "llava_next_peer_output.log"
    result["peer_log"] = str(log)
    try:
        # offline: their conversation.py tries to download a Llama-3 tokenizer at import (and copes with failing)
        env = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error"}
        with peer_environment(repo, tmp / "llava_work", deps, env):
            require(("torch", "transformers", "tokenizers", "decord", "av", "yaml", "PIL"), deps)
            result["stubbed"] = stub_unimportable(["deepspeed", "llava.model", "llava.train.llava_trainer"], log)
            with captured(log):
                train = importlib.import_module("llava.train.train")
                from llava import conversation as conversation_lib
                from llava.constants import IGNORE_INDEX, IMAGE_TOKEN_INDEX
            conversation_lib.default_conversation = conversation_lib.conv_templates["qwen_1_5"]
            tokenizer = byte_level_tokenizer()
            result["tokenizer"] = ("real transformers PreTrainedTokenizerFast built offline (byte-level BPE, no merges, "
                                   "Qwen chat tokens; transformers-4 additional_special_tokens_ids and "
                                   "apply_chat_template(return_dict=False) restored); their preprocess_qwen unchanged")
            result["image_processor"] = "stub: frames -> (T, 3, H, W) float tensor"
            result["conversation"] = "qwen_1_5"
            split_files = sorted(dataset.glob("llava_video_*.json"))
            if not split_files:
                errors.append("no llava_video_<split>.json in the dataset")
            frames_per_video: dict[str, int] = {}
            native: list[tuple[int, float]] = []  # (frames, fps) of each distinct video, read with decord
            from decord import VideoReader, cpu
            for split_file in split_files:
                data_args = train.DataArguments(data_path=str(split_file), lazy_preprocess=True, is_multimodal=True,
                                                video_folder=str(dataset), frames_upbound=LLAVA_FRAMES_UPBOUND,
                                                force_sample=True, add_time_instruction=True)
                data_args.image_processor = FramesProcessor()
                data_args.mm_use_im_start_end = False
                with captured(log):
                    ds = train.LazySupervisedDataset(str(split_file), tokenizer, data_args)
                info = result["splits"][split_file.stem] = {"samples": len(ds), "iterated": 0, "videos_found": 0, "failures": 0}
                for i, sample in enumerate(ds.list_data_dict):
                    problem = None
                    found = os.path.exists(os.path.join(data_args.video_folder, sample["video"]))
                    info["videos_found"] += found
                    try:
                        out = io.StringIO()
                        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                            item = ds._get_item(i)
                        info["iterated"] += 1
                        ids, labels = item["input_ids"].tolist(), item["labels"].tolist()
                        answer = next(c["value"] for c in sample["conversations"] if c["from"] == "gpt")
                        target = tokenizer.decode([t for t in labels if t not in (IGNORE_INDEX, IMAGE_TOKEN_INDEX)])
                        frames = item["image"][0][0].shape[0]
                        if sample["video"] not in frames_per_video and found:
                            reader = VideoReader(os.path.join(data_args.video_folder, sample["video"]), ctx=cpu(0))
                            native.append((len(reader), round(reader.get_avg_fps(), 3)))
                        frames_per_video[sample["video"]] = frames
                        if not found:
                            problem = f"video not found: {sample['video']}"
                        elif item["id"] != sample["id"]:
                            problem = f"_get_item fell back to sample {item['id']!r} (video read error?): {out.getvalue().strip()[-300:]}"
                        elif ids.count(IMAGE_TOKEN_INDEX) != 1:
                            problem = f"{ids.count(IMAGE_TOKEN_INDEX)} image tokens in input_ids"
                        elif answer not in target:
                            problem = f"the answer {answer!r} is not in the supervised labels"
                        elif frames < 1:
                            problem = "no frames decoded"
                    except Exception as exc:  # noqa: BLE001
                        problem = f"{type(exc).__name__}: {exc}"
                    if problem:
                        info["failures"] += 1
                        errors.append(f"{split_file.stem} #{i} {sample.get('id')}: {problem}")
            counts = sorted(frames_per_video.values())
            result["videos_read"] = len(counts)
            result["frames_per_video"] = dict(Counter(counts))
            result["frames_upbound"] = LLAVA_FRAMES_UPBOUND
            result["native_frames_fps"] = {f"{n} frames @ {fps} fps": k for (n, fps), k in Counter(native).items()}
    except MissingDependency as exc:
        errors.append(str(exc))
    except Exception as exc:  # noqa: BLE001
        errors.append(f"{type(exc).__name__}: {exc}")
    result["ok"] = not errors
    return result


# ---------------------------------------------------------------------------------------------- report

def summary(report: dict) -> str:
    lines = [f"dataset: {report['dataset']}"]
    v = report.get("vlm4d")
    if v:
        lines.append(f"VLM4D ({v['repo']}): {'OK' if v['ok'] else 'FAILED'}")
        if v["splits"]:
            lines.append(f"  videos downloaded by their download_video: {v.get('videos_downloaded')}, bytes equal to ours: "
                         f"{v.get('videos_bytes_equal')}; their read_video on {len(v.get('read_video_frames') or [])} videos "
                         f"(10 frames asked): {v.get('read_video_frames')}; stub judge calls: {v.get('judge_calls')}")
        for stem, s in v["splits"].items():
            lines.append(f"  {stem}: {s['questions']} questions, prompts built {s.get('prompts_built')}, "
                         f"their is_fp {s.get('their_is_fp_count')} / our false_positive {s.get('our_false_positive_count')}, "
                         f"answer letters {s.get('answer_letters')}")
            for a in ANSWERERS:
                fs = s.get("final_statistics", {}).get(a, {})
                lines.append(f"    {a:9s} acc_evaluation {s.get('acc_evaluation_accuracy', {}).get(a)}  "
                             f"directional {fs.get('directional')}%  FP {fs.get('fp')}%  overall {fs.get('overall')}%")
    n = report.get("llava_next")
    if n:
        lines.append(f"LLaVA-NeXT ({n['repo']}): {'OK' if n['ok'] else 'FAILED'}")
        if "stubbed" in n:
            lines.append(f"  stubbed (failed to import here): {', '.join(s['module'] for s in n['stubbed']) or 'nothing'}")
        if "tokenizer" in n:
            lines.append(f"  tokenizer: {n['tokenizer']}")
        for stem, s in n["splits"].items():
            lines.append(f"  {stem}: {s['iterated']}/{s['samples']} samples through _get_item, videos found "
                         f"{s['videos_found']}, failures {s['failures']}")
        if "videos_read" in n:
            lines.append(f"  distinct videos decoded: {n['videos_read']}, frames returned per video: {n['frames_per_video']} "
                         f"(frames_upbound {n['frames_upbound']}, force_sample; the videos: {n['native_frames_fps']})")
    for part in ("vlm4d", "llava_next"):
        for err in (report.get(part) or {}).get("errors", [])[:20]:
            lines.append(f"  ERROR [{part}] {err}")
    lines.append("ALL CHECKS PASSED" if report["ok"] else "SOME CHECKS FAILED")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", required=True, type=Path, help="a worldsim batch dataset folder (not modified)")
    parser.add_argument("--vlm4d-repo", type=Path, help="a checkout of github.com/ShijieZhou-UCLA/VLM4D")
    parser.add_argument("--llava-next-repo", type=Path, help="a checkout of github.com/LLaVA-VL/LLaVA-NeXT")
    parser.add_argument("--deps", help="a pip --target folder with the peers' extra dependencies (appended to sys.path)")
    parser.add_argument("--json", action="store_true", help="print the JSON report on stdout (the summary goes to stderr)")
    parser.add_argument("--keep", action="store_true", help="keep the temp work folder (peer logs, answer files)")
    args = parser.parse_args(argv)
    dataset = args.dataset.resolve()
    if not (dataset / "manifest.json").exists():
        parser.error(f"{dataset} is not a worldsim dataset folder (no manifest.json)")
    if not (args.vlm4d_repo or args.llava_next_repo):
        parser.error("give --vlm4d-repo and/or --llava-next-repo")
    tmp = Path(tempfile.mkdtemp(prefix="peer_formats_"))
    report: dict = {"dataset": str(dataset), "deps": args.deps, "workdir": str(tmp) if args.keep else None}
    try:
        if args.vlm4d_repo:
            report["vlm4d"] = check_vlm4d(args.vlm4d_repo.resolve(), dataset, args.deps, tmp)
        if args.llava_next_repo:
            report["llava_next"] = check_llava_next(args.llava_next_repo.resolve(), dataset, args.deps, tmp)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
            for part in ("vlm4d", "llava_next"):
                report.get(part, {}).pop("peer_log", None)  # gone with the temp folder
    report["ok"] = all(report[p]["ok"] for p in ("vlm4d", "llava_next") if p in report)
    if args.json:
        print(summary(report), file=sys.stderr)
        print(json.dumps(report, indent=2))
    else:
        print(summary(report))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
