//! The REST client core: one place that sends every request, with timeouts, bounded fan-out,
//! retries of idempotent calls, the shared 429 gate, typed errors and per-route observations.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use url::Url;

use super::error::{Error, Result};
use super::models::AppError;
use super::retry::{rate_limit_wait, Backoff, RateGate};
use super::route::Route;

/// Most 429 answers one call accepts before giving up, whatever their `Retry-After`.
const MAX_RATE_LIMITED_ATTEMPTS: u32 = 50;

/// Receives one observation per API call and per WebSocket event, e.g. to export metrics.
pub trait ApiObserver: Send + Sync {
    /// One HTTP attempt finished. `route` is the template (`/api/v4/users/{user_id}`);
    /// `status` is `None` when no answer came (timeout, connection error).
    fn api_call(&self, method: &str, route: &str, status: Option<u16>, elapsed: Duration);

    /// A WebSocket event of type `event` arrived.
    fn ws_event(&self, event: &str) {
        let _ = event;
    }
}

/// Tuning of the REST client. The defaults suit a production server.
#[derive(Clone)]
pub struct ClientOptions {
    /// Whole-request limit (connect, send, read the body).
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
    /// Retries of an idempotent call after a 5xx, a timeout or a connection error.
    pub max_retries: u32,
    pub backoff: Backoff,
    /// Longest total time one call waits out 429 answers before giving up with
    /// [`Error::RateLimited`]; also the longest single `Retry-After` accepted.
    pub max_rate_limit_wait: Duration,
    /// Most requests in flight at once across all tasks (bounds fan-outs to many admins).
    pub max_concurrent_requests: usize,
    pub observer: Option<Arc<dyn ApiObserver>>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_retries: 4,
            backoff: Backoff {
                base: Duration::from_millis(250),
                cap: Duration::from_secs(10),
            },
            max_rate_limit_wait: Duration::from_secs(120),
            max_concurrent_requests: 128,
            observer: None,
        }
    }
}

impl fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientOptions")
            .field("request_timeout", &self.request_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("max_retries", &self.max_retries)
            .field("backoff", &self.backoff)
            .field("max_rate_limit_wait", &self.max_rate_limit_wait)
            .field("max_concurrent_requests", &self.max_concurrent_requests)
            .field("observer", &self.observer.is_some())
            .finish()
    }
}

/// sharebot's connection to one Mattermost server. Cheap to clone; clones share the connection
/// pool, the fan-out limit and the rate-limit gate.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base: Url,
    token: String,
    options: ClientOptions,
    permits: Semaphore,
    gate: RateGate,
}

impl fmt::Debug for Client {
    /// Shows where the client points, never its token.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base.as_str())
            .field("token", &"<redacted>")
            .field("options", &self.inner.options)
            .finish()
    }
}

/// Whether a failed attempt may be sent again without risking a double effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Idempotency {
    /// Reads, PUT/PATCH/DELETE and POSTs whose repetition is harmless: retried on 5xx,
    /// timeouts and connection errors.
    Idempotent,
    /// Creating something: a 5xx or timeout is surfaced, since the first attempt may have
    /// worked. Only a refused connection (nothing was sent) and 429 are retried.
    NotIdempotent,
}

/// One request to send.
pub(crate) struct Request {
    pub(crate) method: Method,
    pub(crate) route: Route,
    pub(crate) query: Vec<(&'static str, String)>,
    pub(crate) body: Option<Vec<u8>>,
    pub(crate) idempotency: Idempotency,
}

impl Request {
    pub(crate) fn new(method: Method, route: Route, idempotency: Idempotency) -> Request {
        Request {
            method,
            route,
            query: Vec::new(),
            body: None,
            idempotency,
        }
    }

    pub(crate) fn get(route: Route) -> Request {
        Request::new(Method::GET, route, Idempotency::Idempotent)
    }

    /// Adds a JSON body.
    pub(crate) fn json(mut self, body: &impl Serialize) -> Result<Request> {
        let bytes = serde_json::to_vec(body)
            .map_err(|e| Error::InvalidInput(format!("cannot encode request body: {e}")))?;
        self.body = Some(bytes);
        Ok(self)
    }

    /// Adds a query parameter.
    pub(crate) fn query(mut self, name: &'static str, value: impl ToString) -> Request {
        self.query.push((name, value.to_string()));
        self
    }

    /// Adds `name=true` when `flag` is set.
    pub(crate) fn flag(self, name: &'static str, flag: bool) -> Request {
        if flag {
            self.query(name, "true")
        } else {
            self
        }
    }

    /// Adds `name=value` when `value` is set.
    pub(crate) fn opt(self, name: &'static str, value: Option<impl ToString>) -> Request {
        match value {
            Some(v) => self.query(name, v),
            None => self,
        }
    }
}

/// A successful answer.
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) body: Vec<u8>,
}

/// The outcome of one attempt.
enum Attempt {
    Done(Result<Answer>),
    Retry(Error),
    RateLimited(Option<Duration>),
}

impl Client {
    /// A client for the server at `base_url` (e.g. `https://chat.example.com`, a sub-path is
    /// kept) authenticating with the bot's access `token`.
    pub fn new(base_url: &str, token: &str, options: ClientOptions) -> Result<Client> {
        let mut base = Url::parse(base_url)
            .map_err(|e| Error::Config(format!("base URL {base_url:?}: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(Error::Config(format!(
                "base URL {base_url:?} must be an http or https URL"
            )));
        }
        base.set_query(None);
        base.set_fragment(None);
        let trimmed = base.path().trim_end_matches('/').to_owned();
        base.set_path(&trimmed);
        if token.is_empty() {
            return Err(Error::Config("the bot token is empty".to_owned()));
        }
        let mut auth = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
            Error::Config("the bot token has characters not allowed in a header".into())
        })?;
        auth.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, auth);
        headers.insert(
            "X-Requested-With",
            HeaderValue::from_static("XMLHttpRequest"),
        );
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .timeout(options.request_timeout)
            .connect_timeout(options.connect_timeout)
            .user_agent(concat!("sharebot/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?;
        let permits = Semaphore::new(options.max_concurrent_requests.max(1));
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                base,
                token: token.to_owned(),
                options,
                permits,
                gate: RateGate::default(),
            }),
        })
    }

    /// The server's base URL, without a trailing slash.
    pub fn base_url(&self) -> &Url {
        &self.inner.base
    }

    /// The bot token, for the WebSocket upgrade only.
    pub(crate) fn token(&self) -> &str {
        &self.inner.token
    }

    /// The rate-limit gate every call of this client (and its WebSocket's upgrade) goes through.
    pub(crate) fn gate(&self) -> &RateGate {
        &self.inner.gate
    }

    pub(crate) fn options(&self) -> &ClientOptions {
        &self.inner.options
    }

    /// The absolute URL of `path` (which starts with `/api/v4/`).
    pub(crate) fn url(&self, path: &str) -> Result<Url> {
        let full = format!("{}{}", self.inner.base.as_str().trim_end_matches('/'), path);
        Url::parse(&full).map_err(|e| Error::InvalidInput(format!("bad URL: {e}")))
    }

    /// Sends `request` and decodes a JSON answer.
    pub(crate) async fn json<T: DeserializeOwned>(&self, request: Request) -> Result<T> {
        let route = request.route.template;
        let answer = self.send(request).await?;
        serde_json::from_slice(&answer.body).map_err(|e| Error::Decode {
            route,
            message: e.to_string(),
        })
    }

    /// Sends `request` and ignores the body of a successful answer; returns its status.
    pub(crate) async fn empty(&self, request: Request) -> Result<StatusCode> {
        Ok(self.send(request).await?.status)
    }

    /// Sends `request`, retrying as its idempotency and the server's answers allow.
    pub(crate) async fn send(&self, request: Request) -> Result<Answer> {
        let options = &self.inner.options;
        let mut url = self.url(&request.route.path)?;
        if !request.query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (name, value) in &request.query {
                pairs.append_pair(name, value);
            }
        }
        let mut retries = 0u32;
        let mut rate_limits = 0u32;
        let mut rate_waited = Duration::ZERO;
        loop {
            match self.attempt(&request, &url).await {
                Attempt::Done(result) => return result,
                Attempt::Retry(error) if retries >= options.max_retries => return Err(error),
                Attempt::Retry(error) => {
                    let delay = options.backoff.delay(retries);
                    tracing::debug!(
                        method = %request.method,
                        route = request.route.template,
                        retry = retries + 1,
                        delay_ms = delay.as_millis() as u64,
                        error = %error,
                        "retrying Mattermost call"
                    );
                    retries += 1;
                    tokio::time::sleep(delay).await;
                }
                Attempt::RateLimited(asked) => {
                    // `Retry-After: 0` must not turn into a busy loop: wait at least the base.
                    let wait = asked
                        .unwrap_or_else(|| options.backoff.delay(rate_limits))
                        .max(options.backoff.base);
                    rate_limits += 1;
                    if rate_waited + wait > options.max_rate_limit_wait
                        || rate_limits > MAX_RATE_LIMITED_ATTEMPTS
                    {
                        return Err(Error::RateLimited {
                            route: request.route.template,
                            retry_after: wait,
                        });
                    }
                    rate_waited += wait;
                    tracing::info!(
                        route = request.route.template,
                        wait_ms = wait.as_millis() as u64,
                        "Mattermost rate limit hit, holding every request back"
                    );
                    self.inner.gate.close_for(wait);
                }
            }
        }
    }

    /// One HTTP exchange, classified.
    async fn attempt(&self, request: &Request, url: &Url) -> Attempt {
        let options = &self.inner.options;
        let route = request.route.template;
        let Ok(_permit) = self.inner.permits.acquire().await else {
            return Attempt::Done(Err(Error::Config("client closed".into())));
        };
        let _probe = self.inner.gate.probe().await;
        // After the permit: a call queued for a permit must still respect a 429 seen meanwhile.
        self.inner.gate.wait_open().await;
        let ticket = self.inner.gate.wait_turn().await;
        let started = Instant::now();
        let mut builder = self.inner.http.request(request.method.clone(), url.clone());
        if let Some(body) = &request.body {
            builder = builder
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        let outcome = async {
            let response = builder.send().await?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = response.bytes().await?;
            Ok::<_, reqwest::Error>((status, headers, body))
        }
        .await;
        let elapsed = started.elapsed();
        let status = outcome.as_ref().ok().map(|(s, _, _)| s.as_u16());
        tracing::debug!(
            method = %request.method,
            route,
            status,
            elapsed_ms = elapsed.as_millis() as u64,
            "Mattermost call"
        );
        if let Some(observer) = &options.observer {
            observer.api_call(request.method.as_str(), route, status, elapsed);
        }
        let idempotent = request.idempotency == Idempotency::Idempotent;
        let (status, headers, body) = match outcome {
            Ok(answer) => answer,
            // No connection means nothing was sent: safe to retry even a create.
            Err(e) if e.is_connect() => {
                let error = if e.is_timeout() {
                    Error::Timeout {
                        route,
                        after: options.connect_timeout,
                    }
                } else {
                    Error::Transport {
                        route,
                        message: describe(&e),
                    }
                };
                return Attempt::Retry(error);
            }
            Err(e) if e.is_timeout() => {
                let error = Error::Timeout {
                    route,
                    after: options.request_timeout,
                };
                return if idempotent {
                    Attempt::Retry(error)
                } else {
                    Attempt::Done(Err(error))
                };
            }
            Err(e) => {
                let error = Error::Transport {
                    route,
                    message: describe(&e),
                };
                return if idempotent {
                    Attempt::Retry(error)
                } else {
                    Attempt::Done(Err(error))
                };
            }
        };
        self.inner.gate.observe(&ticket, status.as_u16(), &headers);
        if status == StatusCode::TOO_MANY_REQUESTS {
            // The limiter refuses before the handler runs: nothing was done, always retry.
            return Attempt::RateLimited(rate_limit_wait(&headers));
        }
        if status.is_success() {
            return Attempt::Done(Ok(Answer {
                status,
                body: body.to_vec(),
            }));
        }
        let error = api_error(status, route, &body);
        if status.is_server_error() && idempotent {
            Attempt::Retry(error)
        } else {
            Attempt::Done(Err(error))
        }
    }
}

/// A transport error in words, without the URL (which is not secret, but is noise).
fn describe(error: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut text = if error.is_connect() {
        "connection failed".to_owned()
    } else if error.is_body() || error.is_decode() {
        "answer body could not be read".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = error.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Turns an error answer into [`Error::Api`] when the body is an `AppError`, else
/// [`Error::Status`].
fn api_error(status: StatusCode, route: &'static str, body: &[u8]) -> Error {
    match serde_json::from_slice::<AppError>(body) {
        Ok(app) if !app.id.is_empty() || !app.message.is_empty() => Error::Api {
            status: status.as_u16(),
            route,
            id: app.id,
            message: app.message,
            detailed_error: app.detailed_error,
            request_id: app.request_id,
        },
        _ => {
            let text = String::from_utf8_lossy(body);
            Error::Status {
                status: status.as_u16(),
                route,
                body: text.chars().take(300).collect(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_token() {
        let client = Client::new(
            "https://chat.example.com/mm/",
            "s3cr3t-token-value",
            ClientOptions::default(),
        )
        .unwrap();
        let shown = format!("{client:?}");
        assert!(!shown.contains("s3cr3t-token-value"), "{shown}");
        assert!(shown.contains("<redacted>"));
        assert!(shown.contains("chat.example.com"));
    }

    #[test]
    fn builds_urls_under_a_sub_path() {
        let client = Client::new(
            "https://chat.example.com/mm/",
            "t",
            ClientOptions::default(),
        )
        .unwrap();
        assert_eq!(
            client.url("/api/v4/users/me").unwrap().as_str(),
            "https://chat.example.com/mm/api/v4/users/me"
        );
        let client = Client::new("http://127.0.0.1:8065", "t", ClientOptions::default()).unwrap();
        assert_eq!(
            client.url("/api/v4/users/me").unwrap().as_str(),
            "http://127.0.0.1:8065/api/v4/users/me"
        );
    }

    #[test]
    fn refuses_bad_configuration() {
        assert!(Client::new("ftp://x", "t", ClientOptions::default()).is_err());
        assert!(Client::new("not a url", "t", ClientOptions::default()).is_err());
        assert!(Client::new("http://x", "", ClientOptions::default()).is_err());
        let err = Client::new("http://x", "bad\ntoken", ClientOptions::default()).unwrap_err();
        assert!(!err.to_string().contains("bad\ntoken"));
    }

    #[test]
    fn decodes_app_errors_and_other_bodies() {
        let body = br#"{"id":"app.channel.get.existing.app_error","message":"Unable to find the existing channel.","detailed_error":"","request_id":"abc","status_code":404}"#;
        match api_error(StatusCode::NOT_FOUND, "/r", body) {
            Error::Api {
                status,
                id,
                message,
                request_id,
                ..
            } => {
                assert_eq!(status, 404);
                assert_eq!(id, "app.channel.get.existing.app_error");
                assert_eq!(message, "Unable to find the existing channel.");
                assert_eq!(request_id, "abc");
            }
            other => panic!("{other:?}"),
        }
        match api_error(StatusCode::TOO_MANY_REQUESTS, "/r", b"limit exceeded\n") {
            Error::Status { status, body, .. } => {
                assert_eq!(status, 429);
                assert_eq!(body, "limit exceeded\n");
            }
            other => panic!("{other:?}"),
        }
    }
}
