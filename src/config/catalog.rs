//! The provider catalog: which environment variables make a model provider
//! available, and what clawinit writes for it. One table, read by `plan`.
//!
//! Defaults are those of the pinned openclaw@2026.9.6 (its `*_DEFAULT_MODEL`
//! constants and provider docs). Order matters: when nothing chooses a primary
//! model, the first available provider's default becomes the primary and the
//! others' defaults the fallbacks.

/// How the `apiKey` of a written provider block is filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPolicy {
    /// A key variable must be present; the block references it.
    Required,
    /// The provider also works without a key (a local server): `<P>_BASE_URL`
    /// alone enables it, and this non-secret marker is written as the key.
    Optional { marker: &'static str },
}

#[derive(Debug)]
pub struct Provider {
    /// Model-ref prefix and `models.providers` key.
    pub id: &'static str,
    /// Prefix of `<P>_BASE_URL` / `<P>_MODELS`.
    pub env_prefix: &'static str,
    /// Credential variables; the first non-empty one wins.
    pub key_vars: &'static [&'static str],
    pub key: KeyPolicy,
    /// OpenClaw knows the provider: a key alone is enough and no block is
    /// written unless `<P>_BASE_URL` overrides the endpoint.
    pub builtin: bool,
    pub base_url: &'static str,
    pub api: &'static str,
    /// Model ids for a written block when `<P>_MODELS` is unset; the first is
    /// the provider's default model for derived chains.
    pub models: &'static [&'static str],
}

impl Provider {
    pub fn default_model(&self) -> &'static str {
        self.models[0]
    }
}

const fn builtin(
    id: &'static str,
    env_prefix: &'static str,
    key_vars: &'static [&'static str],
    base_url: &'static str,
    api: &'static str,
    models: &'static [&'static str],
) -> Provider {
    Provider { id, env_prefix, key_vars, key: KeyPolicy::Required, builtin: true, base_url, api, models }
}

const fn block(
    id: &'static str,
    env_prefix: &'static str,
    key_vars: &'static [&'static str],
    key: KeyPolicy,
    base_url: &'static str,
    api: &'static str,
    models: &'static [&'static str],
) -> Provider {
    Provider { id, env_prefix, key_vars, key, builtin: false, base_url, api, models }
}

const COMPLETIONS: &str = "openai-completions";

#[rustfmt::skip]
pub static PROVIDERS: &[Provider] = &[
    builtin("anthropic", "ANTHROPIC", &["ANTHROPIC_API_KEY"], "https://api.anthropic.com", "anthropic-messages", &["claude-opus-5", "claude-sonnet-5"]),
    builtin("openai", "OPENAI", &["OPENAI_API_KEY"], "https://api.openai.com/v1", "openai-responses", &["gpt-6-astra", "gpt-5.4"]),
    builtin("google", "GEMINI", &["GEMINI_API_KEY", "GOOGLE_API_KEY"], "https://generativelanguage.googleapis.com/v1beta", "google-generative-ai", &["gemini-3.1-pro-preview", "gemini-3-flash-preview"]),
    builtin("moonshot", "MOONSHOT", &["MOONSHOT_API_KEY"], "https://api.moonshot.ai/v1", COMPLETIONS, &["kimi-k2.5", "kimi-k2-thinking"]),
    builtin("minimax", "MINIMAX", &["MINIMAX_API_KEY"], "https://api.minimax.io/anthropic", "anthropic-messages", &["MiniMax-M3"]),
    builtin("openrouter", "OPENROUTER", &["OPENROUTER_API_KEY"], "https://openrouter.ai/api/v1", COMPLETIONS, &["auto"]),
    builtin("xai", "XAI", &["XAI_API_KEY"], "https://api.x.ai/v1", "openai-responses", &["grok-4.7"]),
    builtin("zai", "ZAI", &["ZAI_API_KEY", "Z_AI_API_KEY"], "https://api.z.ai/api/paas/v4", COMPLETIONS, &["glm-5.1"]),
    builtin("deepseek", "DEEPSEEK", &["DEEPSEEK_API_KEY"], "https://api.deepseek.com", COMPLETIONS, &["deepseek-chat"]),
    builtin("mistral", "MISTRAL", &["MISTRAL_API_KEY"], "https://api.mistral.ai/v1", COMPLETIONS, &["mistral-large-latest"]),
    builtin("groq", "GROQ", &["GROQ_API_KEY"], "https://api.groq.com/openai/v1", COMPLETIONS, &["llama-3.3-70b-versatile"]),
    builtin("cerebras", "CEREBRAS", &["CEREBRAS_API_KEY"], "https://api.cerebras.ai/v1", COMPLETIONS, &["gpt-oss-120b"]),
    builtin("together", "TOGETHER", &["TOGETHER_API_KEY"], "https://api.together.xyz/v1", COMPLETIONS, &["moonshotai/Kimi-K2.6"]),
    builtin("venice", "VENICE", &["VENICE_API_KEY"], "https://api.venice.ai/api/v1", COMPLETIONS, &["kimi-k2-5"]),
    builtin("kimi", "KIMI", &["KIMI_API_KEY", "KIMICODE_API_KEY"], "https://api.kimi.com/coding/", "anthropic-messages", &["kimi-code"]),
    builtin("huggingface", "HUGGINGFACE", &["HUGGINGFACE_HUB_TOKEN", "HF_TOKEN"], "https://router.huggingface.co/v1", COMPLETIONS, &["deepseek-ai/DeepSeek-R1"]),
    builtin("nvidia", "NVIDIA", &["NVIDIA_API_KEY"], "https://integrate.api.nvidia.com/v1", COMPLETIONS, &["nvidia/nemotron-3-ultra-550b-a55b"]),
    // Self-hosted: always a `models.providers` block, since their built-in
    // defaults point at localhost, which in a container is the container.
    block("litellm", "LITELLM", &["LITELLM_API_KEY", "LITELLM_MASTER_KEY"], KeyPolicy::Required, "http://localhost:4000", COMPLETIONS, &["claude-opus-4-6"]),
    block("vllm", "VLLM", &["VLLM_API_KEY"], KeyPolicy::Required, "http://127.0.0.1:8000/v1", COMPLETIONS, &["default"]),
    block("sglang", "SGLANG", &["SGLANG_API_KEY"], KeyPolicy::Required, "http://127.0.0.1:30000/v1", COMPLETIONS, &["default"]),
    // Ollama's native API (no `/v1`: the OpenAI-compatible path breaks tool calls).
    block("ollama", "OLLAMA", &["OLLAMA_API_KEY"], KeyPolicy::Optional { marker: "ollama-local" }, "http://127.0.0.1:11434", "ollama", &["gemma4"]),
];

pub fn find(id: &str) -> Option<&'static Provider> {
    PROVIDERS.iter().find(|p| p.id == id)
}

/// The provider part of a `provider/model` ref, lowercased as OpenClaw does.
pub fn provider_of(model_ref: &str) -> Option<String> {
    let (provider, model) = model_ref.trim().split_once('/')?;
    (!provider.is_empty() && !model.is_empty()).then(|| provider.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_variables_are_unique_and_well_formed() {
        let mut ids = std::collections::HashSet::new();
        let mut vars = std::collections::HashSet::new();
        for p in PROVIDERS {
            assert!(ids.insert(p.id), "duplicate id {}", p.id);
            assert!(!p.models.is_empty() && !p.key_vars.is_empty(), "{}", p.id);
            assert!(p.base_url.starts_with("http"), "{}", p.id);
            for v in p.key_vars {
                assert!(vars.insert(*v), "{v} enables two providers");
                assert!(v.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'), "{v}");
            }
        }
    }

    #[test]
    fn model_refs_split_on_the_first_slash() {
        assert_eq!(provider_of("openrouter/moonshotai/kimi-k2.5").as_deref(), Some("openrouter"));
        assert_eq!(provider_of("Moonshot/kimi-k2.5").as_deref(), Some("moonshot"));
        assert_eq!(provider_of("kimi-k2.5"), None);
        assert_eq!(provider_of("/x"), None);
    }
}
