//! The load balancer in front of the replicas: each HTTP request to the next ready replica in
//! turn (`server.public_url` points here), the next one tried when a replica refuses the connection.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;

use super::replicas::Replicas;

/// A request body larger than this is refused (callbacks are a few kilobytes).
const MAX_BODY: usize = 1 << 20;

#[derive(Clone)]
struct Balancer {
    replicas: Replicas,
    urls: Arc<Vec<String>>,
    next: Arc<AtomicUsize>,
    http: reqwest::Client,
    /// Requests each replica answered.
    served: Arc<Vec<AtomicUsize>>,
}

/// A running load balancer.
pub struct Proxy {
    pub url: String,
    served: Arc<Vec<AtomicUsize>>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Requests each replica answered so far.
    pub fn served(&self) -> Vec<usize> {
        self.served
            .iter()
            .map(|n| n.load(Ordering::SeqCst))
            .collect()
    }

    pub fn stop(self) {
        self.task.abort();
    }
}

/// Listens on a loopback port and balances over `replicas`.
pub async fn start(replicas: Replicas) -> Result<Proxy, String> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("cannot listen: {e}"))?;
    let url = format!(
        "http://{}",
        listener.local_addr().map_err(|e| e.to_string())?
    );
    let urls = replicas.urls();
    let served: Arc<Vec<AtomicUsize>> =
        Arc::new(urls.iter().map(|_| AtomicUsize::new(0)).collect());
    let balancer = Balancer {
        replicas,
        urls: Arc::new(urls),
        next: Arc::new(AtomicUsize::new(0)),
        // The integration timeout Mattermost itself gives a callback.
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| e.to_string())?,
        served: served.clone(),
    };
    let app = axum::Router::new().fallback(forward).with_state(balancer);
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(Proxy { url, served, task })
}

async fn forward(State(lb): State<Balancer>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = to_bytes(body, MAX_BODY).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "request too large\n").into_response();
    };
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let count = lb.urls.len();
    let first = lb.next.fetch_add(1, Ordering::SeqCst);
    // Ready replicas first, in turn; then the others, in case the health view is stale.
    let order: Vec<usize> = (0..count)
        .map(|k| (first + k) % count)
        .filter(|&i| lb.replicas.ready(i))
        .chain(
            (0..count)
                .map(|k| (first + k) % count)
                .filter(|&i| !lb.replicas.ready(i)),
        )
        .collect();
    for i in order {
        let mut forwarded = lb
            .http
            .request(parts.method.clone(), format!("{}{path}", lb.urls[i]))
            .body(body.clone());
        for (name, value) in &parts.headers {
            if name != axum::http::header::HOST && name != axum::http::header::CONTENT_LENGTH {
                forwarded = forwarded.header(name, value);
            }
        }
        match forwarded.send().await {
            Ok(answer) => {
                lb.served[i].fetch_add(1, Ordering::SeqCst);
                let status = answer.status();
                let headers = answer.headers().clone();
                let bytes = answer.bytes().await.unwrap_or_default();
                let mut response = Response::new(Body::from(bytes));
                *response.status_mut() = status;
                for (name, value) in &headers {
                    if name != axum::http::header::CONTENT_LENGTH
                        && name != axum::http::header::TRANSFER_ENCODING
                    {
                        response.headers_mut().insert(name, value.clone());
                    }
                }
                return response;
            }
            // Refused: the request never reached that replica, so another may take it.
            Err(err) if err.is_connect() => continue,
            Err(_) => return (StatusCode::BAD_GATEWAY, "bad gateway\n").into_response(),
        }
    }
    (StatusCode::BAD_GATEWAY, "no replica answered\n").into_response()
}
