//! One HTTP attempt and what its answer means.

use std::error::Error as _;
use std::time::{Duration, SystemTime};

use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use reqwest::{Client, Response};

use super::queue::Job;
use super::{
    DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, Shared, USER_AGENT, WebhookError,
    WebhookSettings, sign,
};

const SIGNATURE: HeaderName = HeaderName::from_static(SIGNATURE_HEADER);
const EVENT: HeaderName = HeaderName::from_static(EVENT_HEADER);
const DELIVERY: HeaderName = HeaderName::from_static(DELIVERY_HEADER);
const JSON: HeaderValue = HeaderValue::from_static("application/json");

/// Most of a receiver's answer body read (and thrown away). Reading it lets the connection go
/// back to the pool; past this much the connection is closed instead.
const MAX_ANSWER_BODY: usize = 64 * 1024;

/// What one attempt's outcome means for the delivery.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// 2xx.
    Delivered(u16),
    /// Final: a 4xx other than 408 and 429, or a request that cannot be built.
    Refused(WebhookError),
    /// Try again, after `after` if the receiver said (`Retry-After`), else after the backoff.
    Retry {
        after: Option<Duration>,
        error: WebhookError,
    },
}

/// The HTTP client: HTTP/1.1 with keep-alive pooling, no redirects (a webhook that moved is
/// the receiver's configuration to fix, and following a 302 would turn the POST into a GET),
/// `timeout` for the whole attempt.
pub(crate) fn client(settings: &WebhookSettings) -> Result<Client, WebhookError> {
    Client::builder()
        .user_agent(USER_AGENT)
        .timeout(settings.timeout)
        .connect_timeout(settings.timeout)
        .pool_max_idle_per_host(settings.concurrency)
        .pool_idle_timeout(Duration::from_secs(60))
        .tcp_nodelay(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| WebhookError::Client(describe(e)))
}

/// Sends `job` once.
pub(crate) async fn send(shared: &Shared, job: &Job) -> Verdict {
    let mut headers = HeaderMap::with_capacity(4);
    headers.insert(CONTENT_TYPE, JSON);
    headers.insert(EVENT, job.event_value.clone());
    headers.insert(DELIVERY, job.delivery.clone());
    if let Some(secret) = &shared.settings.secret {
        // Signed per attempt: a retry minutes later carries a fresh timestamp, so receivers
        // can keep a tight tolerance.
        let signature = sign(secret, unix_now(), &job.body);
        match HeaderValue::try_from(signature) {
            Ok(v) => {
                headers.insert(SIGNATURE, v);
            }
            Err(e) => return Verdict::Refused(WebhookError::Transport(e.to_string())),
        }
    }
    let request = shared
        .client
        .post(job.url.clone())
        .headers(headers)
        .body(job.body.clone());
    match request.send().await {
        Ok(answer) => {
            let status = answer.status().as_u16();
            let after = retry_after(answer.headers(), SystemTime::now());
            drain(answer).await;
            classify(status, after)
        }
        Err(e) if e.is_timeout() => Verdict::Retry {
            after: None,
            error: WebhookError::Timeout(shared.settings.timeout),
        },
        Err(e) if e.is_builder() => Verdict::Refused(WebhookError::Transport(describe(e))),
        Err(e) => Verdict::Retry {
            after: None,
            error: WebhookError::Transport(describe(e)),
        },
    }
}

/// What a status means. 408 (the receiver timed out reading us) and 429 (slow down) are
/// worth another try; other 4xx say this request is wrong for this receiver.
pub(crate) fn classify(status: u16, retry_after: Option<Duration>) -> Verdict {
    match status {
        200..=299 => Verdict::Delivered(status),
        408 | 429 => Verdict::Retry {
            after: retry_after,
            error: WebhookError::Status(status),
        },
        400..=499 => Verdict::Refused(WebhookError::Status(status)),
        _ => Verdict::Retry {
            after: retry_after,
            error: WebhookError::Status(status),
        },
    }
}

/// `Retry-After` as delay-seconds or an HTTP date (RFC 9110 §10.2.3). A date in the past is
/// no delay; anything unreadable is ignored (the backoff applies).
pub(crate) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Reads the answer body up to [`MAX_ANSWER_BODY`] so the connection can be reused.
async fn drain(mut answer: Response) {
    let mut read = 0;
    while let Ok(Some(chunk)) = answer.chunk().await {
        read += chunk.len();
        if read > MAX_ANSWER_BODY {
            break;
        }
    }
}

/// A reqwest error with its causes (`connection refused` is in a source, not the top).
/// The URL is left out: it may carry the receiver's token in its query.
fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        assert_eq!(classify(200, None), Verdict::Delivered(200));
        assert_eq!(classify(204, None), Verdict::Delivered(204));
        for s in [400, 401, 403, 404, 410, 413, 422] {
            assert_eq!(
                classify(s, Some(Duration::from_secs(1))),
                Verdict::Refused(WebhookError::Status(s)),
                "{s}"
            );
        }
        let d = Some(Duration::from_secs(7));
        for s in [408, 429, 500, 502, 503, 504, 301, 302, 100] {
            assert_eq!(
                classify(s, d),
                Verdict::Retry {
                    after: d,
                    error: WebhookError::Status(s)
                },
                "{s}"
            );
        }
    }

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480); // 2015-10-21 07:28:00 UTC
        let at = |v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(RETRY_AFTER, HeaderValue::from_static(v));
            retry_after(&h, now)
        };
        assert_eq!(at("120"), Some(Duration::from_secs(120)));
        assert_eq!(at(" 0 "), Some(Duration::ZERO));
        assert_eq!(
            at("Wed, 21 Oct 2015 07:28:30 GMT"),
            Some(Duration::from_secs(30))
        );
        assert_eq!(at("Wed, 21 Oct 2015 07:00:00 GMT"), Some(Duration::ZERO));
        assert_eq!(at("-5"), None);
        assert_eq!(at("soon"), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }
}
