//! The LLM providers whose calls are profiled.

use serde::{Deserialize, Serialize};

/// The LLM provider that served a call.
///
/// The original accepted `openai`, `anthropic` and `google-gemini`; the others are additive so
/// that calls to every major provider can be profiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Provider {
    /// OpenAI.
    Openai,
    /// Anthropic.
    Anthropic,
    /// Google Gemini (AI Studio or Vertex AI).
    GoogleGemini,
    /// Mistral AI.
    Mistral,
    /// DeepSeek.
    Deepseek,
    /// xAI (Grok).
    Xai,
    /// Cohere.
    Cohere,
    /// Meta Llama models on any host.
    Meta,
    /// Azure OpenAI Service.
    AzureOpenai,
    /// AWS Bedrock.
    Bedrock,
    /// Groq.
    Groq,
    /// Together AI.
    Together,
    /// Fireworks AI.
    Fireworks,
    /// OpenRouter.
    Openrouter,
}

impl Provider {
    /// Every provider, in the order listed in validation messages.
    pub const ALL: [Provider; 14] = [
        Provider::Openai,
        Provider::Anthropic,
        Provider::GoogleGemini,
        Provider::Mistral,
        Provider::Deepseek,
        Provider::Xai,
        Provider::Cohere,
        Provider::Meta,
        Provider::AzureOpenai,
        Provider::Bedrock,
        Provider::Groq,
        Provider::Together,
        Provider::Fireworks,
        Provider::Openrouter,
    ];

    /// The wire name, e.g. `google-gemini`.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Openai => "openai",
            Provider::Anthropic => "anthropic",
            Provider::GoogleGemini => "google-gemini",
            Provider::Mistral => "mistral",
            Provider::Deepseek => "deepseek",
            Provider::Xai => "xai",
            Provider::Cohere => "cohere",
            Provider::Meta => "meta",
            Provider::AzureOpenai => "azure-openai",
            Provider::Bedrock => "bedrock",
            Provider::Groq => "groq",
            Provider::Together => "together",
            Provider::Fireworks => "fireworks",
            Provider::Openrouter => "openrouter",
        }
    }

    /// Parses a wire name (exact, as the original's enum did).
    pub fn parse(name: &str) -> Option<Provider> {
        Provider::ALL.into_iter().find(|p| p.as_str() == name)
    }
}
