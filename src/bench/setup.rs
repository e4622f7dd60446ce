//! A benchmark world: Org A and Org B as in-process sandboxes with injected per-request
//! latency (the stand-in for a network round trip) and, when asked, Mattermost-style rate
//! limiting on Org B; N system admins on Org B; a connection accepted by Org B's bot (so it
//! hears arriving channels at once); and the real bot on Org B.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::bot::{RunningBot, Tuning};
use crate::config::Config;
use crate::domain;
use crate::mattermost::models::{AcceptInvite, NewChannel, NewRemoteCluster};
use crate::mattermost::{Client, ClientOptions};
use crate::sandbox::faults::{FaultSettings, RateLimit};
use crate::sandbox::federation::FederationOptions;
use crate::sandbox::recorder::Recorder;
use crate::sandbox::seed::SeedUser;
use crate::sandbox::{self, RunningSandbox, SandboxOptions, Seed};

/// The longest wait for the bot's start-up pass before a scenario begins.
const SETTLE_LIMIT: Duration = Duration::from_secs(60);
/// The call that comes last in a start-up pass: reading a connection's shared channels.
const LAST_STARTUP_ROUTE: &str = "/api/v4/remotecluster/{remote_id}/sharedchannelremotes";

/// The password of every benchmark admin (`admin-001`…).
pub const ADMIN_PASSWORD: &str = "Bench@dmin-0";

/// What a world is made with.
#[derive(Debug, Clone, Default)]
pub struct Shape {
    /// System admins on Org B (the two seeded ones included; at least 2).
    pub admins: usize,
    pub latency_ms: u64,
    /// Org B's limit for each token, requests per second; none when `None`. It starts with
    /// the bot (the channels' own arrival from Org A is server-to-server traffic, not the bot's).
    pub rate_limit: Option<u32>,
    /// Start the bot only when asked ([`World::start_bot`]).
    pub bot_later: bool,
    /// Connections from Org A to Org B beyond the first; those of odd number place their
    /// channels in Org B's `engineering` team (so the bot accepts them at once), the others
    /// in the inbox team (for review).
    pub more_connections: usize,
    /// The bot's `review.reconcile_every`, when not its default.
    pub reconcile_every: Option<Duration>,
    /// Record every request Org B answers (method and route) in [`World::recorder`].
    pub record: bool,
}

/// A running benchmark world.
pub struct World {
    pub a: RunningSandbox,
    pub b: RunningSandbox,
    /// The bot serving Org B in this process (taken out when another process serves it).
    pub bot: Option<RunningBot>,
    /// Org A's admin (shares channels).
    pub a_admin: Client,
    /// Every connection's id on Org A; the first one's channels land in the inbox team.
    pub remote_ids: Vec<String>,
    /// What Org B answered, when the shape asks for it.
    pub recorder: Option<Recorder>,
    /// Org B's admins' usernames.
    pub admins: Vec<String>,
    shape: Shape,
    data_dir: std::path::PathBuf,
}

fn seed(admins: usize) -> Seed {
    let mut seed = Seed::default();
    for i in 1..=admins.saturating_sub(2) {
        seed.users.push(SeedUser::admin(
            format!("admin-{i:03}"),
            ADMIN_PASSWORD,
            &["engineering", "marketing", "shared-inbox"],
        ));
    }
    // Every admin is in every team: the server's default of 50 members a team
    // (`TeamSettings.MaxUsersPerTeam`) is raised as such an organization's admin would.
    if admins + 10 > 50 {
        let mut limits = toml::Table::new();
        limits.insert(
            "MaxUsersPerTeam".into(),
            toml::Value::Integer(admins as i64 + 100),
        );
        let mut config = toml::Table::new();
        config.insert("TeamSettings".into(), toml::Value::Table(limits));
        seed.config = Some(config);
    }
    seed
}

async fn sandbox(
    name: &str,
    seed: Seed,
    faults: FaultSettings,
    recorder: Option<Recorder>,
) -> Result<RunningSandbox, String> {
    sandbox::start(SandboxOptions {
        name: name.into(),
        seed,
        faults,
        recorder,
        federation: FederationOptions {
            ping_interval: Duration::from_secs(1),
            ..FederationOptions::default()
        },
        ..SandboxOptions::default()
    })
    .await
    .map_err(|e| format!("cannot start the {name} sandbox: {e}"))
}

impl World {
    /// Starts everything and waits until the bot listens.
    pub async fn start(shape: &Shape, data_dir: &Path) -> Result<World, String> {
        let latency = FaultSettings {
            latency_ms: shape.latency_ms,
            ..FaultSettings::default()
        };
        let recorder = shape.record.then(Recorder::default);
        let a = sandbox("org-a", Seed::default(), latency.clone(), None).await?;
        let b = sandbox("org-b", seed(shape.admins), latency, recorder.clone()).await?;
        let (a_admin, _) = Client::login(
            a.site_url(),
            "sysadmin",
            "Sys@dmin-sample1",
            ClientOptions::default(),
        )
        .await
        .map_err(|e| format!("cannot log in to Org A: {e}"))?;
        let b_bot = Client::new(b.site_url(), b.bot_token(), ClientOptions::default())
            .map_err(|e| e.to_string())?;
        let mut remote_ids = Vec::new();
        for i in 0..=shape.more_connections {
            let suffix = if i == 0 {
                String::new()
            } else {
                format!("-{i}")
            };
            let made = a_admin
                .create_remote_cluster(&NewRemoteCluster {
                    name: format!("org-b{suffix}"),
                    display_name: format!("Org B{suffix}"),
                    default_team_id: a.team_id("engineering").ok_or("no team on Org A")?,
                    password: String::new(),
                })
                .await
                .map_err(|e| format!("cannot create the connection: {e}"))?;
            let team = if i % 2 == 1 {
                "engineering"
            } else {
                "shared-inbox"
            };
            b_bot
                .accept_invite(&AcceptInvite {
                    invite: made.invite,
                    name: format!("org-a{suffix}"),
                    display_name: format!("Org A{suffix}"),
                    default_team_id: b.team_id(team).ok_or("no inbox team")?,
                    password: made.password,
                })
                .await
                .map_err(|e| format!("cannot accept the invitation: {e}"))?;
            remote_ids.push(made.remote_cluster.remote_id);
        }
        let mut admins = vec!["sysadmin".to_string(), "sysadmin2".to_string()];
        admins.extend((1..=shape.admins.saturating_sub(2)).map(|i| format!("admin-{i:03}")));
        let mut world = World {
            a,
            b,
            bot: None,
            a_admin,
            remote_ids,
            recorder,
            admins,
            shape: shape.clone(),
            data_dir: data_dir.to_path_buf(),
        };
        if !shape.bot_later {
            world.start_bot().await?;
        }
        Ok(world)
    }

    /// Starts the bot on Org B (with Org B's rate limit, when the shape has one) and waits
    /// until it listens.
    pub async fn start_bot(&mut self) -> Result<(), String> {
        let (b, shape, data_dir) = (&self.b, &self.shape, &self.data_dir);
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| e.to_string())?;
        let public = format!(
            "http://{}",
            listener.local_addr().map_err(|e| e.to_string())?
        );
        let database = data_dir.join(format!("bench-{}.db", crate::ids::new_id()));
        let env: HashMap<String, String> = [
            ("SHAREBOT_MATTERMOST__URL", b.site_url().to_string()),
            ("SHAREBOT_MATTERMOST__TOKEN", b.bot_token().to_string()),
            (
                "SHAREBOT_MATTERMOST__ADMIN_CHANNEL",
                "engineering/admins".into(),
            ),
            ("SHAREBOT_SERVER__PUBLIC_URL", public),
            (
                "SHAREBOT_SERVER__SECRET",
                crate::ids::new_id() + &crate::ids::new_id(),
            ),
            (
                "SHAREBOT_DATABASE__URL",
                format!("sqlite://{}", database.display()),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .chain(shape.reconcile_every.map(|every| {
            (
                "SHAREBOT_REVIEW__RECONCILE_EVERY".to_string(),
                format!("{}ms", every.as_millis()),
            )
        }))
        .collect();
        let config = Config::load_from(None, &env).map_err(|e| e.to_string())?;
        // Only now: set-up calls above are not part of any figure, nor limited.
        if let Some(per_sec) = shape.rate_limit {
            b.faults().set(FaultSettings {
                latency_ms: shape.latency_ms,
                rate_limit: Some(RateLimit {
                    per_sec,
                    max_burst: per_sec,
                    vary_by_user: true,
                }),
                ..FaultSettings::default()
            });
        }
        let bot = domain::start(&config, Tuning::default(), Some(listener))
            .await
            .map_err(|e| format!("the bot did not start: {e}"))?;
        if !bot.wait_connected(Duration::from_secs(30)).await {
            return Err("the bot did not connect".into());
        }
        // Let the start-up pass finish (it opens every admin's DM channel, then reads the
        // connections and their channels) before anything is measured: channels arrive at a
        // running bot, not at one that is starting. What follows the last read is local work
        // and a round trip or two.
        let started = std::time::Instant::now();
        let read = || {
            bot.metrics.counter_total(
                "sharebot_mattermost_requests_total",
                &[("route", LAST_STARTUP_ROUTE), ("status", "200")],
            ) > 0
        };
        while !read() && started.elapsed() < SETTLE_LIMIT {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_millis(4 * shape.latency_ms + 100)).await;
        self.bot = Some(bot);
        Ok(())
    }

    /// Org A makes a channel and shares it with Org B; returns its id (the same on both sides).
    pub async fn share(&self, name: &str) -> Result<String, String> {
        self.share_over(0, name).await
    }

    /// [`World::share`] over connection `connection` (an index into `remote_ids`).
    pub async fn share_over(&self, connection: usize, name: &str) -> Result<String, String> {
        let remote_id = self
            .remote_ids
            .get(connection)
            .ok_or("no such connection")?;
        let channel = self
            .a_admin
            .create_channel(&NewChannel {
                team_id: self.a.team_id("engineering").unwrap_or_default(),
                name: name.into(),
                display_name: name.into(),
                channel_type: "O".into(),
                ..NewChannel::default()
            })
            .await
            .map_err(|e| format!("cannot create {name}: {e}"))?;
        self.a_admin
            .invite_remote_to_channel(remote_id, &channel.id)
            .await
            .map_err(|e| format!("cannot share {name}: {e}"))?;
        Ok(channel.id)
    }

    pub fn bot_id(&self) -> String {
        self.b.user_id("sharebot").unwrap_or_default()
    }

    /// The bot's review DMs about channel `display` (root posts in DMs carrying the marker).
    pub fn review_dms(&self, display: &str, with: &str) -> usize {
        let bot = self.bot_id();
        self.b.count_posts(|p| {
            p.user_id == bot
                && p.root_id.is_empty()
                && p.props.contains_key(crate::notify::REQUEST_MARKER)
                && p.props
                    .get("attachments")
                    .is_some_and(|a| mentions(a, display) && mentions(a, with))
        })
    }

    pub async fn stop(self) {
        if let Some(bot) = self.bot {
            let _ = bot.shutdown().await;
        }
        self.a.shutdown().await;
        self.b.shutdown().await;
    }
}

/// Whether any string in `value` contains `text`; walks the JSON in place, since the bench
/// polls with it every millisecond beside the bot it measures.
fn mentions(value: &serde_json::Value, text: &str) -> bool {
    match value {
        serde_json::Value::String(s) => s.contains(text),
        serde_json::Value::Array(items) => items.iter().any(|v| mentions(v, text)),
        serde_json::Value::Object(map) => map.values().any(|v| mentions(v, text)),
        _ => false,
    }
}
