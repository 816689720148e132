import json

from worldsim.redact import is_secret_name, redact, redact_url


def test_secret_names():
    assert all(is_secret_name(n) for n in ("api_key", "apiKey", "token", "access_token", "password", "client_secret", "auth"))
    assert not any(is_secret_name(n) for n in ("api_key_env", "keypoints", "max_tokens", "model", "base_url", "monkey"))


def test_urls_lose_credentials_and_secret_query_values():
    assert redact_url("http://user:PASS@host:8000/v1?token=abc&x=1") == "http://***@host:8000/v1?token=***&x=1"
    assert redact_url("http://127.0.0.1:8000/v1") == "http://127.0.0.1:8000/v1"
    assert redact_url("not a url") == "not a url"


def test_redact_walks_configs():
    config = {"stages": [{"kind": "parser", "name": "langchain", "config": {
        "base_url": "http://u:p@h/v1?api_key=k", "api_key": "sk-123", "api_key_env": "OPENAI_API_KEY", "temperature": 0}}]}
    out = json.dumps(redact(config))
    assert "sk-123" not in out and ":p@" not in out and "api_key=k" not in out
    assert "OPENAI_API_KEY" in out and '"temperature": 0' in out
