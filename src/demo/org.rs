//! One demo organization: a sandbox Mattermost, a sharebot wired to it (own SQLite file, own
//! callback port), and its two admins logged in as people, each with what a person's client
//! can do (post, read, click, submit a dialog).

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::bot::{RunningBot, Tuning};
use crate::config::Config;
use crate::domain;
use crate::mattermost::models::{Post, User};
use crate::mattermost::{ChannelPostsQuery, Client, ClientOptions};
use crate::sandbox::federation::FederationOptions;
use crate::sandbox::{self, RunningSandbox, SandboxOptions};

/// The seeded admins and their passwords (`src/sandbox/default_seed.toml`).
pub const ADMINS: [(&str, &str); 2] = [
    ("sysadmin", "Sys@dmin-sample1"),
    ("sysadmin2", "Sys@dmin-sample2"),
];

/// How long any one step may take before the demo gives up on it.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// A person logged in through the API, as the web app would be.
pub struct Person {
    pub client: Client,
    pub user: User,
}

impl Person {
    /// Posts `message` in `channel_id` (in thread `root_id` unless empty).
    pub async fn post(
        &self,
        channel_id: &str,
        message: &str,
        root_id: &str,
    ) -> Result<Post, String> {
        self.client
            .create_post(&Post {
                channel_id: channel_id.into(),
                message: message.into(),
                root_id: root_id.into(),
                ..Post::default()
            })
            .await
            .map_err(|e| e.user_message())
    }

    /// The latest posts of a channel, oldest first.
    pub async fn posts(&self, channel_id: &str) -> Vec<Post> {
        let Ok(list) = self
            .client
            .channel_posts(
                channel_id,
                &ChannelPostsQuery {
                    page: Some(0),
                    per_page: Some(100),
                    ..ChannelPostsQuery::default()
                },
            )
            .await
        else {
            return Vec::new();
        };
        let mut posts: Vec<Post> = list.ordered().into_iter().cloned().collect();
        posts.reverse();
        posts
    }

    /// The DM channel between this person and `other`.
    pub async fn dm_with(&self, other: &str) -> Result<String, String> {
        self.client
            .create_direct_channel(&self.user.id, other)
            .await
            .map(|c| c.id)
            .map_err(|e| e.user_message())
    }
}

/// A running organization.
pub struct Org {
    pub label: &'static str,
    pub sandbox: RunningSandbox,
    pub bot: RunningBot,
    pub admins: Vec<Person>,
    pub admin_channel: String,
}

impl Org {
    /// Starts the sandbox and the bot, logs the admins in, and waits until the bot listens.
    pub async fn start(label: &'static str, name: &str, data_dir: &Path) -> Result<Org, String> {
        let sandbox = sandbox::start(SandboxOptions {
            name: name.into(),
            federation: FederationOptions {
                ping_interval: Duration::from_secs(1),
                ..FederationOptions::default()
            },
            ..SandboxOptions::default()
        })
        .await
        .map_err(|e| format!("cannot start {label}'s Mattermost sandbox: {e}"))?;
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("cannot open {label}'s callback port: {e}"))?;
        let public = listener
            .local_addr()
            .map(|a| format!("http://{a}"))
            .map_err(|e| e.to_string())?;
        let database = data_dir.join(format!("{name}.db"));
        let env: HashMap<String, String> = [
            ("SHAREBOT_MATTERMOST__URL", sandbox.site_url().to_string()),
            (
                "SHAREBOT_MATTERMOST__TOKEN",
                sandbox.bot_token().to_string(),
            ),
            (
                "SHAREBOT_MATTERMOST__ADMIN_CHANNEL",
                "engineering/admins".into(),
            ),
            ("SHAREBOT_SERVER__PUBLIC_URL", public),
            (
                "SHAREBOT_SERVER__SECRET",
                crate::ids::new_id() + &crate::ids::new_id(),
            ),
            ("SHAREBOT_REVIEW__RECONCILE_EVERY", "2s".into()),
            (
                "SHAREBOT_DATABASE__URL",
                format!("sqlite://{}", database.display()),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let config = Config::load_from(None, &env)
            .map_err(|e| format!("the demo's configuration for {label} is invalid: {e}"))?;
        let tuning = Tuning {
            notice_sync_wait: Duration::from_secs(5),
            ..Tuning::default()
        };
        let bot = domain::start(&config, tuning, Some(listener))
            .await
            .map_err(|e| format!("{label}'s sharebot did not start: {e}"))?;
        if !bot.wait_connected(STEP_TIMEOUT).await {
            return Err(format!(
                "{label}'s sharebot did not connect to its Mattermost"
            ));
        }
        let mut admins = Vec::new();
        for (login, password) in ADMINS {
            let (client, user) = Client::login(
                sandbox.site_url(),
                login,
                password,
                ClientOptions::default(),
            )
            .await
            .map_err(|e| format!("{login} cannot log in to {label}: {e}"))?;
            admins.push(Person { client, user });
        }
        let admin_channel = sandbox
            .channel_id("engineering", "admins")
            .ok_or("the sandbox has no admin channel")?;
        Ok(Org {
            label,
            sandbox,
            bot,
            admins,
            admin_channel,
        })
    }

    /// The bot's user id on this organization.
    pub fn bot_id(&self) -> String {
        self.bot.identity.user.id.clone()
    }

    /// Stops the bot, then the sandbox.
    pub async fn stop(self) {
        let _ = self.bot.shutdown().await;
        self.sandbox.shutdown().await;
    }
}

/// Polls `check` every 100 ms until it yields, or fails after [`STEP_TIMEOUT`] naming `what`.
pub async fn wait_for<T, F, Fut>(what: &str, mut check: F) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + STEP_TIMEOUT;
    loop {
        if let Some(found) = check().await {
            return Ok(found);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!("timed out waiting for {what}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
