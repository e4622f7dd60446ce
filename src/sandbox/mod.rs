//! A Mattermost-compatible server (API v4 subset) for tests and the demo, shaped like the real server.

mod auth;
pub mod cli;
pub mod faults;
pub mod hooks;
pub mod invite_code;
pub mod recorder;
pub mod websocket;

mod api;
mod core;
pub mod error;
pub mod federation;
pub mod model;
pub mod seed;
mod state;
mod trigger;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::middleware::from_fn_with_state;

use self::core::shared::Sandbox;
pub use self::core::shared::{IntegrationTimings, SERVER_VERSION};
pub use self::error::AppError;
use self::faults::{FaultSettings, Faults};
use self::hooks::Hooks;
use self::recorder::Recorder;
pub use self::seed::{Seed, SeedError};
use self::state::Db;
use self::trigger::TriggerSigner;
use self::websocket::{Hub, TokenCheck};

/// How to start a sandbox instance.
#[derive(Clone)]
pub struct SandboxOptions {
    /// Address to listen on (port 0: any free port).
    pub listen: SocketAddr,
    /// Public base URL; defaults to `http://<bound address>`.
    pub site_url: Option<String>,
    /// Name of the instance (the organization it stands for).
    pub name: String,
    /// Starting data.
    pub seed: Seed,
    /// The bot's access token; else the seed's; else a generated one.
    pub bot_token: Option<String>,
    /// Fault injection and rate limiting at start.
    pub faults: FaultSettings,
    /// Records every API answer when given.
    pub recorder: Option<Recorder>,
    /// How long a trigger id stays valid: the outgoing-integration timeout, 30 s on current servers.
    pub trigger_ttl: Duration,
    /// Ping interval and invite lifetime of secure connections.
    pub federation: federation::FederationOptions,
    /// How far this server's clock runs ahead of the machine's (negative: behind), in
    /// milliseconds; two organizations' servers and the bot rarely agree to the millisecond.
    pub clock_offset_ms: i64,
    /// How often WebSocket connections without a socket are swept, and how long since their
    /// last activity makes them go (the server's five minutes; tests shorten it).
    pub inactive_conn_reaper_interval: Duration,
}

impl Default for SandboxOptions {
    fn default() -> SandboxOptions {
        SandboxOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            site_url: None,
            name: "sandbox".into(),
            seed: Seed::default(),
            bot_token: None,
            faults: FaultSettings::default(),
            recorder: None,
            trigger_ttl: Duration::from_secs(30),
            federation: federation::FederationOptions::default(),
            clock_offset_ms: 0,
            inactive_conn_reaper_interval: websocket::INACTIVE_CONN_REAPER_INTERVAL,
        }
    }
}

/// Why a sandbox could not start.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot build the integration HTTP client: {0}")]
    HttpClient(#[from] reqwest::Error),
}

/// A started sandbox; stop it with [`RunningSandbox::shutdown`].
pub struct RunningSandbox {
    addr: SocketAddr,
    site_url: String,
    name: String,
    bot_token: String,
    bot_token_generated: bool,
    hub: Hub,
    faults: Faults,
    hooks: Hooks,
    timings: IntegrationTimings,
    db: Arc<Mutex<Db>>,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
    /// The pinger and the sync sender.
    background: Vec<tokio::task::JoinHandle<()>>,
}

/// Every API route the sandbox serves: `(METHOD, template)`, templates named as in the spec.
pub fn served_routes() -> Vec<(&'static str, &'static str)> {
    api::route_table()
        .into_iter()
        .map(|(method, path, _)| (method, path))
        .collect()
}

/// The routes other servers call (`/api/v4/remotecluster/ping`, `/msg`, `/confirm_invite`);
/// they are not part of the client API the spec documents.
pub fn server_to_server_routes() -> Vec<(&'static str, &'static str)> {
    federation::inbound::route_table()
        .into_iter()
        .map(|(method, path, _)| (method, path))
        .collect()
}

/// The routes outside `/api/v4` the server's `web` package serves (`POST /hooks/{hook_id}`);
/// the API spec does not describe them.
pub fn web_routes() -> Vec<(&'static str, &'static str)> {
    api::web_routes()
        .into_iter()
        .map(|(method, path, _)| (method, path))
        .collect()
}

/// Starts a sandbox: binds, seeds, and serves until [`RunningSandbox::shutdown`].
pub async fn start(options: SandboxOptions) -> Result<RunningSandbox, SandboxError> {
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .map_err(|source| SandboxError::Bind {
            addr: options.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| SandboxError::Bind {
        addr: options.listen,
        source,
    })?;
    let site_url = options
        .site_url
        .clone()
        .map(|u| u.trim_end_matches('/').to_string())
        .unwrap_or_else(|| format!("http://{addr}"));
    let (bot_token, bot_token_generated) = match options
        .bot_token
        .clone()
        .or_else(|| options.seed.bot_token.clone())
    {
        Some(token) => (token, false),
        None => (crate::ids::new_id(), true),
    };
    let mut seeded = Db::from_seed(&options.seed, &bot_token);
    seeded.clock_offset_ms = options.clock_offset_ms;
    // The instance's name is its site name unless the seed's configuration names one.
    if seeded.config.team_settings.site_name == model::config::DEFAULT_SITE_NAME {
        seeded.config.team_settings.site_name = options.name.clone();
    }
    let db = Arc::new(Mutex::new(seeded));
    let check_db = db.clone();
    let check: TokenCheck = Arc::new(move |token: &str| {
        let db = check_db.lock().unwrap_or_else(|p| p.into_inner());
        db.user_by_token(token).map(|u| u.id.clone())
    });
    let hub = Hub::new(SERVER_VERSION, check);
    hub.set_reaper_interval(options.inactive_conn_reaper_interval);
    let faults = Faults::new(options.faults.clone());
    let config_db = db.clone();
    faults.follow_config(Arc::new(move || {
        let db = config_db.lock().unwrap_or_else(|p| p.into_inner());
        faults::RateLimit::from_settings(&db.config.rate_limit_settings)
    }));
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let (runtime, sync_queue) = federation::runtime(options.federation.clone());
    let timings = IntegrationTimings::default();
    let shared = Arc::new(Sandbox {
        db: db.clone(),
        hub: hub.clone(),
        triggers: TriggerSigner::new(options.trigger_ttl),
        http,
        site_url: site_url.clone(),
        diagnostic_id: crate::ids::new_id(),
        federation: runtime,
        integration_timings: timings.clone(),
    });
    let background = federation::spawn(shared.clone(), sync_queue);
    let hooks = Hooks::default();
    let mut app = api::router(shared, federation::inbound::route_table())
        .layer(from_fn_with_state(hooks.clone(), hooks::run))
        .layer(from_fn_with_state(hub.clone(), websocket::activity))
        .layer(axum::middleware::from_fn(server_headers))
        .layer(from_fn_with_state(faults.clone(), faults::middleware));
    if let Some(recorder) = options.recorder.clone() {
        app = app.layer(from_fn_with_state(recorder, recorder::record));
    }
    let admin_db = db.clone();
    let is_admin: faults::AdminCheck = Arc::new(move |token: &str| {
        let db = admin_db.lock().unwrap_or_else(|p| p.into_inner());
        db.user_by_token(token).is_some_and(|u| u.is_system_admin())
    });
    let app = app
        .merge(
            hub.router()
                .layer(from_fn_with_state(faults.clone(), faults::rate_limit_only)),
        )
        .merge(faults::admin_router(faults.clone(), hub.clone(), is_admin));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let serve = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async {
            let _ = stopped.await;
        });
        if let Err(err) = serve.await {
            tracing::error!(%err, "sandbox server stopped");
        }
    });
    Ok(RunningSandbox {
        addr,
        site_url,
        name: options.name,
        bot_token,
        bot_token_generated,
        hub,
        faults,
        hooks,
        timings,
        db,
        stop,
        task,
        background,
    })
}

/// Adds the headers the real server puts on every API answer (`X-Request-Id`, `X-Version-Id`).
async fn server_headers(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if !headers.contains_key("X-Request-Id") {
        if let Ok(value) = crate::ids::new_id().parse() {
            headers.insert("X-Request-Id", value);
        }
    }
    if let Ok(value) = format!("{SERVER_VERSION}.0.sandbox.false").parse() {
        headers.insert("X-Version-Id", value);
    }
    response
}

impl RunningSandbox {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The public base URL (no trailing slash).
    pub fn site_url(&self) -> &str {
        &self.site_url
    }

    /// The instance's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The bot's access token.
    pub fn bot_token(&self) -> &str {
        &self.bot_token
    }

    /// Whether the bot token was generated (neither given nor in the seed).
    pub fn bot_token_generated(&self) -> bool {
        self.bot_token_generated
    }

    /// The WebSocket hub (to drop or forget connections).
    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    /// The switchable faults.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// One-shot hooks run before a request is handled (tests stage races with them).
    pub fn hooks(&self) -> &Hooks {
        &self.hooks
    }

    fn with_db<T>(&self, f: impl FnOnce(&Db) -> T) -> T {
        let db = self.db.lock().unwrap_or_else(|p| p.into_inner());
        f(&db)
    }

    /// The id of the user (or bot) with this username.
    pub fn user_id(&self, username: &str) -> Option<String> {
        self.with_db(|db| db.user_by_username(username).map(|u| u.id.clone()))
    }

    /// The id of the team with this name.
    pub fn team_id(&self, name: &str) -> Option<String> {
        self.with_db(|db| db.team_by_name(name).map(|t| t.id.clone()))
    }

    /// The id of a team's channel by names.
    pub fn channel_id(&self, team: &str, channel: &str) -> Option<String> {
        self.with_db(|db| {
            let team = db.team_by_name(team)?;
            db.channel_by_name(&team.id, channel).map(|c| c.id.clone())
        })
    }

    /// How long integrations took to answer clicks.
    pub fn integration_timings(&self) -> &IntegrationTimings {
        &self.timings
    }

    /// How many stored (not deleted) posts satisfy `wanted`, read straight from the state.
    pub fn count_posts(&self, wanted: impl Fn(&model::Post) -> bool) -> usize {
        self.with_db(|db| {
            db.posts
                .values()
                .filter(|p| p.delete_at == 0 && wanted(p))
                .count()
        })
    }

    /// The newest stored (not deleted) post satisfying `wanted`.
    pub fn find_post(&self, wanted: impl Fn(&model::Post) -> bool) -> Option<model::Post> {
        self.with_db(|db| {
            db.posts
                .values()
                .filter(|p| p.delete_at == 0 && wanted(p))
                .max_by_key(|p| p.create_at)
                .cloned()
        })
    }

    /// The team a channel is in now, if it exists.
    pub fn channel_team(&self, channel_id: &str) -> Option<String> {
        self.with_db(|db| db.channels.get(channel_id).map(|c| c.team_id.clone()))
    }

    /// A stored post as the state keeps it (integrations included), for assertions.
    pub fn stored_post(&self, post_id: &str) -> Option<model::Post> {
        self.with_db(|db| db.posts.get(post_id).cloned())
    }

    /// Stops as a server process would: every WebSocket is closed and forgotten (nothing can
    /// be resumed), the listener closes, and in-flight requests finish.
    pub async fn shutdown(self) {
        self.hub().forget_sessions();
        self.hub().drop_all();
        for task in &self.background {
            task.abort();
        }
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}
