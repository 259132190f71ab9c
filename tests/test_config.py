"""Config loading, validation with locations, environment providers, and model resolution."""

from __future__ import annotations

from pathlib import Path

import pytest

from switchyard.config import ConfigError, load_config
from switchyard.core.errors import GatewayError
from switchyard.routing import ModelResolver, Target


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "switchyard.yaml"
    path.write_text(text)
    return path


def test_defaults_env_substitution_and_relative_data_dir(tmp_path):
    path = write(
        tmp_path,
        """
server:
  auth_keys: ["${SY_KEY}"]
  data_dir: state
providers:
  oa:
    type: openai
    base_url: http://127.0.0.1:9/v1/
    api_keys: [k1, "${OA2:-fallback}"]
    headers: {X-Extra: v}
""",
    )
    cfg = load_config(path, env={"SY_KEY": "secret"})
    assert cfg.server.host == "127.0.0.1" and cfg.server.port == 4000 and cfg.server.max_body_mb == 32
    assert cfg.server.auth_keys == ["secret"]
    assert cfg.server.data_dir == (tmp_path / "state").resolve()
    oa = cfg.providers["oa"]
    assert oa.base_url == "http://127.0.0.1:9/v1" and oa.api_keys == ["k1", "fallback"]
    assert oa.headers == {"x-extra": "v"} and oa.protocol == "openai_chat"
    assert "mock" in cfg.providers  # always present


def test_every_problem_is_reported_with_its_line(tmp_path):
    path = write(
        tmp_path,
        """server:
  port: 99999
providers:
  bad:
    type: nope
  an:
    type: anthropic
    extra: 1
models:
  fast: [zz/foo]
routing:
  rotation: fair
""",
    )
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    problems = "\n".join(info.value.problems)
    assert f"{path}:2: server.port: must be between 1 and 65535" in problems
    assert f"{path}:5: providers.bad.type: unknown provider type 'nope'" in problems
    assert f"{path}:8: providers.an.extra: unknown key" in problems
    assert f"{path}:10: models.fast.0: target 'zz/foo' names an unknown provider 'zz'" in problems
    assert f"{path}:12: routing.rotation: must be one of balanced, sequential" in problems


def test_unset_variable_is_a_problem_and_never_printed_as_a_secret(tmp_path):
    path = write(tmp_path, 'providers:\n  oa:\n    type: openai\n    api_keys: ["${MISSING}", "sk-live-123"]\n')
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert "environment variable MISSING is not set" in str(info.value)
    assert "sk-live-123" not in str(info.value)


def test_invalid_yaml_names_the_line(tmp_path):
    path = write(tmp_path, "providers:\n  oa: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(path, env={})


def test_providers_from_environment():
    env = {
        "OPENAI_API_KEY": "a",
        "OPENAI_API_KEY_2": "b",
        "ANTHROPIC_API_KEY": "c",
        "GEMINI_API_KEY": "g",
        "VLLM_API_BASE": "http://127.0.0.1:8000/v1",
        "STRAY_API_KEY": "x",
    }
    cfg = load_config(None, env=env)
    assert sorted(cfg.providers) == ["anthropic", "gemini", "mock", "openai", "vllm"]
    assert cfg.providers["openai"].api_keys == ["a", "b"]
    assert cfg.providers["vllm"].type == "openai" and cfg.providers["vllm"].base_url == "http://127.0.0.1:8000/v1"
    assert cfg.providers["anthropic"].type == "anthropic"


def test_switchyard_config_variable_names_the_file(tmp_path):
    path = write(tmp_path, "server: {port: 4100}\n")
    assert load_config(None, env={"SWITCHYARD_CONFIG": str(path)}).server.port == 4100


def resolver(tmp_path: Path) -> ModelResolver:
    path = write(
        tmp_path,
        """
providers:
  oa: {type: openai, base_url: "http://127.0.0.1:9/v1", models: [gpt-4.1, shared]}
  an: {type: anthropic, base_url: "http://127.0.0.1:9", models: [claude-x, shared]}
models:
  fast: [oa/gpt-4.1, an/claude-x]
  "claude-*": [oa/gpt-4.1]
  "claude-opus-*": [an/claude-x]
  "*": [mock/mock-1]
""",
    )
    return ModelResolver(load_config(path, env={}))


def test_resolution_order(tmp_path):
    r = resolver(tmp_path)
    assert r.resolve("oa/some-model") == (Target("oa", "some-model"),)
    assert r.resolve("fast") == (Target("oa", "gpt-4.1"), Target("an", "claude-x"))
    assert r.resolve("claude-x") == (Target("an", "claude-x"),)  # declared beats a pattern
    assert r.resolve("claude-opus-4-8") == (Target("an", "claude-x"),)  # most specific pattern
    assert r.resolve("claude-haiku") == (Target("oa", "gpt-4.1"),)
    assert r.resolve("anything") == (Target("mock", "mock-1"),)


def test_ambiguous_and_unknown_models(tmp_path):
    r = resolver(tmp_path)
    with pytest.raises(GatewayError) as info:
        r.resolve("shared")
    assert info.value.status == 400 and "ambiguous" in info.value.message
    bare = ModelResolver(load_config(None, env={}))
    with pytest.raises(GatewayError) as info:
        bare.resolve("nope")
    assert info.value.status == 404
    assert bare.resolve("mock-1") == (Target("mock", "mock-1"),)


def test_max_concurrency_per_key(tmp_path):
    path = write(
        tmp_path,
        "providers:\n  oa: {type: openai, api_keys: [k], max_concurrency: 4}\n  ob: {type: openai, max_concurrency: 0}\n",
    )
    with pytest.raises(ConfigError, match="max_concurrency: must be 1 or more"):
        load_config(path, env={})
    path = write(tmp_path, "providers:\n  oa: {type: openai, api_keys: [k], max_concurrency: 4}\n")
    assert load_config(path, env={}).providers["oa"].max_concurrency == 4


def test_usage_log_boolean_and_mapping_forms(tmp_path):
    assert load_config(write(tmp_path, "observability: {usage_log: false}\n")).observability.usage_log is False
    obs = load_config(write(tmp_path, "observability: {usage_log: true}\n")).observability
    assert (obs.usage_log, obs.usage_backend, obs.usage_dsn) == (True, "sqlite", None)
    text = "observability:\n  usage_log: {backend: postgres, dsn: 'postgresql://sy:${PGPASS}@db:5432/switchyard'}\n"
    config = load_config(write(tmp_path, text), env={"PGPASS": "s3cret"})
    obs = config.observability
    assert (obs.usage_log, obs.usage_backend) == (True, "postgres")
    assert obs.usage_dsn == "postgresql://sy:s3cret@db:5432/switchyard"
    assert config.governance.dsn is None  # the records follow the usage log's dsn (open_records)
    assert (
        load_config(write(tmp_path, "observability: {usage_log: {backend: sqlite}}\n")).observability.usage_dsn is None
    )
    gov = load_config(write(tmp_path, "governance: {dsn: 'postgres://u@h/gov'}\n")).governance
    assert gov.dsn == "postgres://u@h/gov"


def test_usage_log_mapping_problems_are_reported(tmp_path):
    text = """observability:
  usage_log: {backend: postgres}
governance: {dsn: "mysql://h/db"}
"""
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    problems = "\n".join(info.value.problems)
    assert "usage_log: backend postgres needs a dsn" in problems
    assert "governance.dsn: must be a PostgreSQL URL" in problems
    for text, message in [
        ("observability: {usage_log: {backend: mongo}}\n", "usage_log.backend: must be sqlite or postgres"),
        ("observability: {usage_log: {backend: sqlite, dsn: 'postgresql://h/d'}}\n", "a dsn needs backend postgres"),
        ("observability: {usage_log: {dsn: 'postgresql://h/d', color: 1}}\n", "usage_log.color: unknown key"),
    ]:
        with pytest.raises(ConfigError, match=message):
            load_config(write(tmp_path, text))


def test_local_servers_get_max_tokens_and_no_reasoning_effort_by_default(tmp_path):
    path = write(
        tmp_path,
        """
providers:
  openai: {type: openai}
  azure: {type: openai, base_url: "https://acme.openai.azure.com/openai/v1"}
  llama: {type: openai, base_url: "http://127.0.0.1:8080/v1"}
  declared:
    type: openai
    base_url: "http://127.0.0.1:8080/v1"
    max_tokens_field: max_completion_tokens
    unsupported_params: [reasoning, top_k, extensions.seed]
  none: {type: openai, base_url: "http://127.0.0.1:8080/v1", unsupported_params: []}
  claude: {type: anthropic}
  responses: {type: openai-responses, base_url: "http://127.0.0.1:8080/v1"}
""",
    )
    p = load_config(path, env={}).providers
    assert p["openai"].token_limit_field == p["azure"].token_limit_field == "max_completion_tokens"
    assert p["openai"].dropped_params == p["azure"].dropped_params == []
    assert (p["llama"].token_limit_field, p["llama"].dropped_params) == ("max_tokens", ["reasoning"])
    assert p["declared"].token_limit_field == "max_completion_tokens"
    assert p["declared"].dropped_params == ["reasoning", "top_k", "extensions.seed"]
    assert p["none"].dropped_params == [] and p["none"].unsupported_params == []
    assert p["claude"].token_limit_field is None and p["claude"].dropped_params == []
    assert p["responses"].token_limit_field is None and p["responses"].dropped_params == []


def test_local_server_keys_are_checked(tmp_path):
    path = write(
        tmp_path,
        """
providers:
  a: {type: openai, base_url: "http://127.0.0.1:1/v1", max_tokens_field: max_output_tokens}
  b: {type: anthropic, max_tokens_field: max_tokens}
  c: {type: openai, base_url: "http://127.0.0.1:1/v1", unsupported_params: [reasoning, "a..b"]}
  d: {type: openai, base_url: "http://127.0.0.1:1/v1", unsupported_params: {reasoning: true}}
""",
    )
    with pytest.raises(ConfigError) as err:
        load_config(path, env={})
    text = "\n".join(err.value.problems)
    assert "providers.a.max_tokens_field: must be one of max_tokens, max_completion_tokens" in text
    assert "providers.b.max_tokens_field: only a type: openai provider" in text
    assert "providers.c.unsupported_params" in text
    assert "providers.d.unsupported_params: must be a list" in text


def test_credentials_modes_and_the_client_key_header(tmp_path):
    path = write(
        tmp_path,
        """server:
  client_key_header: X-Gateway-Key
providers:
  own: {type: anthropic, credentials: passthrough}
  both: {type: openai, credentials: either, api_keys: [sk-pool]}
  pooled: {type: gemini, api_keys: [g-pool]}
""",
    )
    cfg = load_config(path, env={})
    assert cfg.server.client_key_header == "x-gateway-key"
    assert [cfg.providers[n].credentials for n in ("own", "both", "pooled")] == ["passthrough", "either", "pool"]
    assert load_config(write(tmp_path, "providers: {}\n"), env={}).server.client_key_header == "x-switchyard-key"


def test_credentials_problems_are_reported(tmp_path):
    path = write(
        tmp_path,
        """server:
  client_key_header: x-api-key
providers:
  a: {type: anthropic, credentials: passthrough, api_keys: [sk-ant-pool]}
  b: {type: openai, credentials: either}
  c: {type: openai, credentials: borrowed}
  d: {type: mock, credentials: passthrough}
""",
    )
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    problems = "\n".join(info.value.problems)
    assert f"{path}:2: server.client_key_header: must be a header name other than authorization" in problems
    assert f"{path}:4: providers.a.credentials: passthrough uses the client's credential" in problems
    assert f"{path}:5: providers.b.credentials: 'either' needs api_keys" in problems
    assert f"{path}:6: providers.c.credentials: must be one of: pool, passthrough, either" in problems
    assert f"{path}:7: providers.d.credentials: the mock provider takes no credentials" in problems
