//! Pagination tokens (ListStreams, ListShards): tamper-evident like iterators, and expiring after
//! 300 s as AWS's do (ExpiredNextTokenException).

use crate::control::ShardFilter;
use crate::error::{Error, Result};
use crate::service::StreamService;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use weir_core::limits::NEXT_TOKEN_LIFETIME_MILLIS;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TokenKind {
    ListStreams,
    ListShards,
    ListConsumers,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PageToken {
    pub kind: TokenKind,
    pub stream: String,
    pub stream_uid: u64,
    /// The last item of the previous page.
    pub position: String,
    pub issued_millis: i64,
    pub filter: Option<ShardFilter>,
}

impl PageToken {
    pub fn new(kind: TokenKind, stream: &str, position: &str, now: i64) -> Self {
        Self {
            kind,
            stream: stream.to_string(),
            stream_uid: 0,
            position: position.to_string(),
            issued_millis: now,
            filter: None,
        }
    }
}

const TAG_LEN: usize = 16;

impl StreamService {
    fn token_mac(&self) -> Hmac<Sha256> {
        // Tokens share the node secret with iterators, under a distinct label.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.inner.iterators.key())
            .expect("HMAC accepts any key length");
        mac.update(b"weir-page-token\0");
        mac
    }

    pub(crate) fn encode_token(&self, t: &PageToken) -> String {
        let mut raw = serde_json::to_vec(t).expect("tokens serialize");
        let mut mac = self.token_mac();
        mac.update(&raw);
        raw.extend_from_slice(&mac.finalize().into_bytes()[..TAG_LEN]);
        base64_simd::STANDARD.encode_to_string(raw)
    }

    pub(crate) fn decode_token(&self, s: &str, kind: TokenKind) -> Result<PageToken> {
        let invalid = || Error::InvalidArgument(format!("Invalid NextToken: {s}"));
        let raw = base64_simd::STANDARD
            .decode_to_vec(s.as_bytes())
            .map_err(|_| invalid())?;
        if raw.len() <= TAG_LEN {
            return Err(invalid());
        }
        let (body, tag) = raw.split_at(raw.len() - TAG_LEN);
        let mut mac = self.token_mac();
        mac.update(body);
        mac.verify_truncated_left(tag).map_err(|_| invalid())?;
        let t: PageToken = serde_json::from_slice(body).map_err(|_| invalid())?;
        if t.kind != kind {
            return Err(invalid());
        }
        if self.now_millis() - t.issued_millis > NEXT_TOKEN_LIFETIME_MILLIS {
            return Err(Error::ExpiredNextToken(format!(
                "The token {s} has expired."
            )));
        }
        Ok(t)
    }
}
