"""Built-in model table: id, provider, context window and fallback prices (USD per million tokens).

Context windows always come from this table. Prices here are the fallback used when genai-prices
is not installed or does not know the model (see `catalog._genai_prices`); they were copied from
the providers' public pricing pages (checked 2025-11). `None` means "no fixed list price": the
OpenRouter and Groq prices of open-weight models move with the upstream host, so they are left to
genai-prices. Ollama and the embedded local model run on the admin's own hardware and cost 0.0.
"""

TABLE_PRICE_SOURCE = "table 2025-11"
SELF_HOSTED_PRICE_SOURCE = "self-hosted"

# (id, provider, context_window, input_price_per_mtok, output_price_per_mtok)
Row = tuple[str, str, int, float | None, float | None]

MODELS: tuple[Row, ...] = (
    # OpenAI (platform.openai.com/docs/pricing)
    ("gpt-4o", "openai", 128_000, 2.50, 10.00),
    ("gpt-4o-mini", "openai", 128_000, 0.15, 0.60),
    ("gpt-4.1", "openai", 1_047_576, 2.00, 8.00),
    ("gpt-4.1-mini", "openai", 1_047_576, 0.40, 1.60),
    ("gpt-4.1-nano", "openai", 1_047_576, 0.10, 0.40),
    ("gpt-5", "openai", 400_000, 1.25, 10.00),
    ("gpt-5-mini", "openai", 400_000, 0.25, 2.00),
    ("gpt-5-nano", "openai", 400_000, 0.05, 0.40),
    ("o3", "openai", 200_000, 2.00, 8.00),
    ("o3-mini", "openai", 200_000, 1.10, 4.40),
    ("o4-mini", "openai", 200_000, 1.10, 4.40),
    # Anthropic (docs.anthropic.com/en/docs/about-claude/models); pinned snapshot ids
    ("claude-opus-4-5-20251101", "anthropic", 200_000, 5.00, 25.00),
    ("claude-haiku-4-5-20251001", "anthropic", 200_000, 1.00, 5.00),
    ("claude-sonnet-4-5-20250929", "anthropic", 200_000, 3.00, 15.00),
    ("claude-opus-4-1-20250805", "anthropic", 200_000, 15.00, 75.00),
    ("claude-sonnet-4-20250514", "anthropic", 200_000, 3.00, 15.00),
    ("claude-opus-4-20250514", "anthropic", 200_000, 15.00, 75.00),
    ("claude-3-7-sonnet-20250219", "anthropic", 200_000, 3.00, 15.00),
    ("claude-3-5-haiku-20241022", "anthropic", 200_000, 0.80, 4.00),
    ("claude-3-haiku-20240307", "anthropic", 200_000, 0.25, 1.25),
    # OpenRouter (openrouter.ai/models)
    ("google/gemini-2.5-pro", "open_router", 1_048_576, 1.25, 10.00),
    ("google/gemini-2.5-flash", "open_router", 1_048_576, 0.30, 2.50),
    ("google/gemini-2.5-flash-lite", "open_router", 1_048_576, 0.10, 0.40),
    ("anthropic/claude-sonnet-4.5", "open_router", 1_000_000, 3.00, 15.00),
    ("anthropic/claude-haiku-4.5", "open_router", 200_000, 1.00, 5.00),
    ("openai/gpt-4o-mini", "open_router", 128_000, 0.15, 0.60),
    ("openai/gpt-5-mini", "open_router", 400_000, 0.25, 2.00),
    ("meta-llama/llama-3.3-70b-instruct", "open_router", 131_072, None, None),
    ("meta-llama/llama-3.1-8b-instruct", "open_router", 131_072, None, None),
    ("deepseek/deepseek-chat", "open_router", 163_840, None, None),
    ("deepseek/deepseek-r1", "open_router", 163_840, None, None),
    ("mistralai/mistral-small-3.2-24b-instruct", "open_router", 131_072, None, None),
    ("qwen/qwen-2.5-72b-instruct", "open_router", 32_768, None, None),
    # Groq (console.groq.com/docs/models)
    ("llama-3.3-70b-versatile", "groq", 131_072, 0.59, 0.79),
    ("llama-3.1-8b-instant", "groq", 131_072, 0.05, 0.08),
    ("openai/gpt-oss-120b", "groq", 131_072, None, None),
    ("openai/gpt-oss-20b", "groq", 131_072, None, None),
    ("qwen/qwen3-32b", "groq", 131_072, None, None),
    # Ollama (ollama.com/library); the context is the model's, not Ollama's default num_ctx
    ("llama3.1:8b", "ollama", 131_072, 0.0, 0.0),
    ("llama3.2:3b", "ollama", 131_072, 0.0, 0.0),
    ("qwen2.5:7b", "ollama", 32_768, 0.0, 0.0),
    # Embedded model shipped with execlens
    ("smollm2-135m-instruct", "local", 8_192, 0.0, 0.0),
)
