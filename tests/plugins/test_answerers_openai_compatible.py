"""openai-compatible answerer against a local stdlib HTTP server implementing POST /v1/chat/completions."""

import base64
import http.server
import io
import json
import socket
import threading

import numpy as np
import pytest

from plugins.answerers.openai_compatible import OpenAICompatibleAnswerer, message_content, reply_text
from worldsim.errors import ConfigError, InputError, StageFailedError
from worldsim.types import QAItem, ScoreInput


class ChatServer:
    """Records every request body; answers each with `reply(body)` as an OpenAI chat completion (`reply` returns the
    reply text, or a whole assistant message dict such as one with `tool_calls`)."""

    def __init__(self, reply, status: int = 200):
        self.requests: list[dict] = []
        self.paths: list[str] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append(body)
                outer.paths.append(self.path)
                if status != 200:
                    data = json.dumps({"error": {"message": "model exploded", "type": "server_error"}}).encode()
                else:
                    answer = reply(body)  # the reply text, or a whole assistant message (e.g. with tool_calls)
                    message = answer if isinstance(answer, dict) else {"role": "assistant", "content": answer}
                    data = json.dumps({
                        "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": body["model"],
                        "choices": [{"index": 0, "message": message,
                                     "finish_reason": "tool_calls" if message.get("tool_calls") else "stop"}],
                        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                    }).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def text_of(body) -> str:
    return next(p["text"] for p in body["messages"][0]["content"] if p["type"] == "text")


def images_of(body) -> list[str]:
    return [p["image_url"]["url"] for p in body["messages"][0]["content"] if p["type"] == "image_url"]


def tokens(body) -> int:
    """The reply length limit (langchain-openai sends max_completion_tokens, older clients max_tokens)."""
    return body.get("max_completion_tokens", body.get("max_tokens"))


def echo_letter(body) -> str:
    """Answers with the letter of the option that says 'moving right', else 'D'."""
    for line in text_of(body).splitlines():
        if line.endswith("moving right") and line[1:3] == ". ":
            return f"{line[0]}. moving right"
    return "I think: D"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    from worldsim.testing import tiny_clip, tiny_plan

    run_dir = tmp_path_factory.mktemp("run")
    video, _, _ = tiny_clip(run_dir / "generator", num_frames=6)
    return ScoreInput(run_dir=str(run_dir), plan=tiny_plan(), seed=0, video=video)


def items():
    return [
        QAItem(id="q0", video="v.mp4", question_type="translational", question="What direction is the red ball moving?",
               choices={"A": "moving left", "B": "moving right", "C": "not moving", "D": "there is no red ball"}, answer="B",
               free_form="In which direction is the red ball moving in the video?"),
        QAItem(id="q1", video="v.mp4", question_type="false_positive", question="What direction is the green car moving?",
               choices={"A": "there is no green car", "B": "moving left", "C": "moving right", "D": "not moving"}, answer="A",
               free_form="In which direction is the green car moving in the video?"),
    ]


def test_request_carries_frames_and_prompt_and_answers_flow_back(inputs):
    with ChatServer(echo_letter) as server:
        stage = OpenAICompatibleAnswerer({"base_url": server.url, "model": "tiny-vlm", "num_frames": 4, "max_side": 64,
                                          "max_concurrency": 1})
        answers = stage.run(items(), inputs)
    assert answers == ["B. moving right", "C. moving right"]
    assert server.paths == ["/v1/chat/completions"] * 2
    for body, item in zip(server.requests, items()):
        assert body["model"] == "tiny-vlm" and tokens(body) == 32 and body["temperature"] == 0.0
        urls = images_of(body)
        assert len(urls) == 4 and all(u.startswith("data:image/png;base64,") for u in urls)
        from PIL import Image

        img = np.asarray(Image.open(io.BytesIO(base64.b64decode(urls[0].split(",", 1)[1]))))
        assert img.shape == (64, 64, 3)  # 32x32 clip scaled to max_side
        text = text_of(body)
        assert item.question in text and all(f"{k}. {v}" in text for k, v in item.choices.items())
        assert "letter only" in text and "4 images" in text
    # Different frames were sampled (first and last of the moving clip differ).
    assert len(set(images_of(server.requests[0]))) == 4


def test_cot_and_free_form_prompts(inputs):
    with ChatServer(lambda body: "The ball rolls.\nAnswer: B") as server:
        stage = OpenAICompatibleAnswerer({"base_url": server.url, "model": "m", "num_frames": 2, "max_side": None})
        assert stage.run(items()[:1], inputs, mode="cot") == ["The ball rolls.\nAnswer: B"]
        stage.run(items()[:1], inputs, mode="direct", free_form=True)
    cot, free = server.requests
    assert "step by step" in text_of(cot) and "Answer: <letter>" in text_of(cot) and tokens(cot) == 512
    assert items()[0].free_form in text_of(free) and "A. moving left" not in text_of(free)
    assert len(images_of(free)) == 2


def test_errors_are_one_line(inputs, monkeypatch):
    with ChatServer(echo_letter, status=500) as server:
        stage = OpenAICompatibleAnswerer({"base_url": server.url, "model": "m", "max_retries": 0})
        with pytest.raises(StageFailedError, match=r"model 'm' at http://127.0.0.1:\d+/v1 failed"):
            stage.run(items(), inputs)
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(StageFailedError, match="failed: .*Connection"):
        OpenAICompatibleAnswerer({"base_url": f"http://127.0.0.1:{port}/v1", "model": "m", "max_retries": 0,
                                  "timeout_s": 5}).run(items(), inputs)
    with pytest.raises(ConfigError, match="base_url"):
        OpenAICompatibleAnswerer({"base_url": "localhost:8000", "model": "m"})
    monkeypatch.delenv("WS_TEST_NO_KEY", raising=False)
    with pytest.raises(ConfigError, match="WS_TEST_NO_KEY"):
        OpenAICompatibleAnswerer({"base_url": "http://127.0.0.1:1/v1", "model": "m", "api_key_env": "WS_TEST_NO_KEY"}).run(items(), inputs)
    with pytest.raises(InputError, match="unknown prompt mode 'fast'"):
        OpenAICompatibleAnswerer({"base_url": "http://127.0.0.1:1/v1", "model": "m"}).run(items(), inputs, mode="fast")
    with pytest.raises(InputError, match="has no video"):
        OpenAICompatibleAnswerer({"base_url": "http://127.0.0.1:1/v1", "model": "m"}).run(items(), inputs.model_copy(update={"video": None}))


def test_content_parts_and_reply_text():
    parts = message_content("hi", ["data:a", "data:b"])
    assert [p["type"] for p in parts] == ["image_url", "image_url", "text"] and parts[-1]["text"] == "hi"
    assert reply_text("B") == "B" and reply_text([{"type": "text", "text": "A"}, {"type": "text", "text": "."}]) == "A."


def test_registered():
    from worldsim.registry import get_stage_info

    assert get_stage_info("answerer", "openai-compatible").cls is OpenAICompatibleAnswerer
