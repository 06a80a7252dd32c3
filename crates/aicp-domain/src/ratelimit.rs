//! Rate limiting as a port: the API asks before doing work, the adapter (Redis GCRA with an
//! in-process fallback) decides.
//!
//! The port itself lives in [`crate::ports::rate_limit`]; this module keeps its old paths.

#[cfg(any(test, feature = "mocks"))]
pub use crate::ports::rate_limit::MockRateLimiter;
pub use crate::ports::rate_limit::{RateDecision, RateLimiter, RatePolicy};
