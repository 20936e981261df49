"""Verdicts name the model that answered, also when another GGUF stands behind the local model."""

from execlens.config import Settings
from execlens.judge.judge import Judge, JudgeRequest
from tests.judge.test_digest import blog_execution


def local_settings(settings: Settings, **update) -> Settings:
    return settings.model_copy(update={"local_model_enabled": True, **update})


def test_another_gguf_is_recorded_by_its_file_name(settings: Settings, tmp_path) -> None:
    gguf = tmp_path / "Qwen2.5-0.5B-Instruct.Q4_K_M.gguf"
    gguf.write_bytes(b"GGUF")
    judge = Judge(local_settings(settings, local_model_path=gguf))

    call = judge.prepare(blog_execution(), None, JudgeRequest(model="smollm2-135m-instruct"))

    assert call.entry.provider == "local"
    assert call.model_name == "qwen2.5-0.5b-instruct.q4_k_m"


def test_the_embedded_model_keeps_its_catalog_name(settings: Settings) -> None:
    judge = Judge(local_settings(settings))

    call = judge.prepare(blog_execution(), None, JudgeRequest(model="smollm2-135m-instruct"))

    assert call.model_name == "smollm2-135m-instruct"
