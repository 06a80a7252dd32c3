//! [`OpenAiEmbedder`]: the [`Embedder`] adapter for OpenAI-compatible embeddings APIs
//! (`POST {base}/embeddings`: OpenAI, Azure OpenAI behind a compatible gateway, vLLM, Ollama,
//! LM Studio, LiteLLM...).
//!
//! Request: `{"model", "input": [texts], "encoding_format": "float"}` (plus `dimensions` when
//! configured) with `Authorization: Bearer {key}` when a key is set. Response: `data[i].embedding`
//! with `data[i].index` saying which input it belongs to (the order of `data` is not trusted).
//! Every failure maps to an [`EmbedError`]: unreachable, timed out, 429 or 5xx → `Unavailable`
//! (retryable); other 4xx → `Rejected`; an answer without exactly one finite vector per input, all
//! of one length → `Malformed`.

use std::time::Duration;

use aicp_domain::embedding::{EmbedError, Embedder};
use aicp_domain::text::char_prefix;
use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::config::EmbeddingsConfig;

/// Longest provider error message kept in an [`EmbedError`].
const MAX_DETAIL: usize = 300;

/// An OpenAI-compatible embeddings endpoint.
pub struct OpenAiEmbedder {
    client: reqwest::Client,
    endpoint: String,
    model: String,
    api_key: Option<SecretString>,
    dimensions: Option<u32>,
}

#[derive(Serialize)]
struct Request<'a> {
    model: &'a str,
    input: &'a [String],
    encoding_format: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    dimensions: Option<u32>,
}

#[derive(Deserialize)]
struct Response {
    data: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    index: usize,
    embedding: Vec<f32>,
}

impl OpenAiEmbedder {
    /// An adapter for `config`.
    ///
    /// # Errors
    /// When the HTTP client cannot be built (TLS backend).
    pub fn new(config: &EmbeddingsConfig) -> anyhow::Result<Self> {
        Ok(Self {
            client: reqwest::Client::builder()
                .timeout(config.timeout)
                .connect_timeout(config.timeout.min(Duration::from_secs(5)))
                .build()?,
            endpoint: format!("{}/embeddings", config.url),
            model: config.model.clone(),
            api_key: config.api_key.clone(),
            dimensions: config.dimensions,
        })
    }
}

#[async_trait]
impl Embedder for OpenAiEmbedder {
    fn model(&self) -> String {
        self.model.clone()
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let body = Request {
            model: &self.model,
            input: texts,
            encoding_format: "float",
            dimensions: self.dimensions,
        };
        let mut request = self.client.post(&self.endpoint).json(&body);
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key.expose_secret());
        }
        let response = request.send().await.map_err(|e| EmbedError::Unavailable(e.to_string()))?;
        let status = response.status();
        if !status.is_success() {
            let detail = response.text().await.unwrap_or_default();
            let detail = format!("HTTP {status}: {}", char_prefix(&detail, MAX_DETAIL));
            return Err(if status.as_u16() == 429 || status.is_server_error() {
                EmbedError::Unavailable(detail)
            } else {
                EmbedError::Rejected(detail)
            });
        }
        let bytes = response.bytes().await.map_err(|e| EmbedError::Unavailable(e.to_string()))?;
        let parsed: Response = serde_json::from_slice(&bytes)
            .map_err(|e| EmbedError::Malformed(format!("not an embeddings response: {e}")))?;
        ordered(parsed.data, texts.len())
    }
}

/// The vectors of `data` in input order, checked: one per input, finite, non-empty, one length.
fn ordered(data: Vec<Item>, inputs: usize) -> Result<Vec<Vec<f32>>, EmbedError> {
    if data.len() != inputs {
        return Err(EmbedError::Malformed(format!("{} vectors for {inputs} inputs", data.len())));
    }
    let mut out: Vec<Option<Vec<f32>>> = vec![None; inputs];
    for item in data {
        let slot = out
            .get_mut(item.index)
            .ok_or_else(|| EmbedError::Malformed(format!("index {} out of range", item.index)))?;
        if slot.replace(item.embedding).is_some() {
            return Err(EmbedError::Malformed(format!("index {} given twice", item.index)));
        }
    }
    let vectors: Vec<Vec<f32>> = out.into_iter().flatten().collect();
    let dims = vectors.first().map_or(0, Vec::len);
    if dims == 0 || vectors.iter().any(|v| v.len() != dims) {
        return Err(EmbedError::Malformed("vectors are empty or of different lengths".into()));
    }
    if vectors.iter().flatten().any(|x| !x.is_finite()) {
        return Err(EmbedError::Malformed("a vector has a component that is not finite".into()));
    }
    Ok(vectors)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(index: usize, embedding: &[f32]) -> Item {
        Item { index, embedding: embedding.to_vec() }
    }

    #[test]
    fn vectors_come_back_in_input_order() {
        let got = ordered(vec![item(1, &[2.0]), item(0, &[1.0])], 2);
        assert_eq!(got, Ok(vec![vec![1.0], vec![2.0]]));
    }

    #[test]
    fn unusable_answers_are_malformed() {
        let cases = [
            (vec![item(0, &[1.0])], 2),
            (vec![item(0, &[1.0]), item(0, &[2.0])], 2),
            (vec![item(0, &[1.0]), item(5, &[2.0])], 2),
            (vec![item(0, &[1.0]), item(1, &[2.0, 3.0])], 2),
            (vec![item(0, &[])], 1),
            (vec![item(0, &[f32::NAN])], 1),
        ];
        for (data, inputs) in cases {
            assert!(matches!(ordered(data, inputs), Err(EmbedError::Malformed(_))));
        }
    }
}
