//! Two connected sandbox organizations ("Org A" shares, "Org B" runs sharebot), the real bot
//! on Org B, and people on Org B who click, post and submit dialogs as a client would: the
//! harness of the review and command tests.

use std::collections::HashMap;
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};
use sharebot::bot::{RunningBot, Tuning};
use sharebot::config::Config;
use sharebot::mattermost::models::{AcceptInvite, NewChannel, NewRemoteCluster, Post};
use sharebot::mattermost::{ChannelPostsQuery, Client, ClientOptions};
use sharebot::sandbox::{RunningSandbox, SandboxOptions};
use sharebot::store::Store;

use super::harness;

pub const BOT_TOKEN: &str = "sandboxbottoken0000000000b";
pub const SIGNING: &str = "review-test-signing-secret-0123456789";

pub async fn instance(name: &str) -> RunningSandbox {
    instance_with(name, sharebot::sandbox::Seed::default()).await
}

/// An instance seeded with `seed`.
pub async fn instance_with(name: &str, seed: sharebot::sandbox::Seed) -> RunningSandbox {
    harness::start(SandboxOptions {
        name: name.into(),
        seed,
        bot_token: Some(BOT_TOKEN.into()),
        federation: harness::quick_federation(),
        ..SandboxOptions::default()
    })
    .await
}

pub async fn login(sandbox: &RunningSandbox, user: &str, password: &str) -> Client {
    harness::client(sandbox.site_url(), user, password).await
}

pub async fn session(sandbox: &RunningSandbox, user: &str, password: &str) -> String {
    harness::session(sandbox.site_url(), user, password).await
}

/// How Org B's connection to Org A is made.
#[derive(Clone, Copy, PartialEq)]
pub enum MadeBy {
    /// An admin in the System Console: the bot learns of channels by polling.
    Console,
    /// The bot itself: it is the connection's creator and gets `channel_created`.
    Bot,
}

pub struct World {
    pub a: RunningSandbox,
    pub b: RunningSandbox,
    /// Org A's admin client (shares channels).
    pub a_admin: Client,
    /// The connection's id on Org A (the same id on both sides).
    pub remote_id: String,
    pub dir: tempfile::TempDir,
    pub extra: Vec<(String, String)>,
    /// The bot's callback address, kept across restarts as a real deployment's is.
    pub callback: std::sync::Mutex<Option<std::net::SocketAddr>>,
}

impl World {
    /// Two organizations that are not connected yet (the commands connect them).
    pub async fn bare() -> World {
        World::bare_with(sharebot::sandbox::Seed::default()).await
    }

    /// Like [`World::bare`], with Org B seeded with `seed`.
    pub async fn bare_with(seed: sharebot::sandbox::Seed) -> World {
        let a = instance("org-a").await;
        let b = instance_with("org-b", seed).await;
        let a_admin = login(&a, "sysadmin", "Sys@dmin-sample1").await;
        World {
            a,
            b,
            a_admin,
            remote_id: String::new(),
            dir: tempfile::tempdir().unwrap(),
            extra: Vec::new(),
            callback: std::sync::Mutex::new(None),
        }
    }

    /// Org B's admin channel (where commands are typed).
    pub fn admin_channel(&self) -> String {
        self.b.channel_id("engineering", "admins").unwrap()
    }

    /// Two connected organizations; Org B's connection sends channels to `default_team`.
    pub async fn new(made_by: MadeBy, default_team: &str, extra: &[(&str, &str)]) -> World {
        World::new_with_b_clock(made_by, default_team, extra, 0).await
    }

    /// Like [`World::new`], with Org B's server clock `offset_ms` ahead of the machine's (and
    /// so of the bot's); negative: behind.
    pub async fn new_with_b_clock(
        made_by: MadeBy,
        default_team: &str,
        extra: &[(&str, &str)],
        offset_ms: i64,
    ) -> World {
        let a = instance("org-a").await;
        let b = harness::start(SandboxOptions {
            name: "org-b".into(),
            bot_token: Some(BOT_TOKEN.into()),
            federation: harness::quick_federation(),
            clock_offset_ms: offset_ms,
            ..SandboxOptions::default()
        })
        .await;
        let a_admin = login(&a, "sysadmin", "Sys@dmin-sample1").await;
        let created = a_admin
            .create_remote_cluster(&NewRemoteCluster {
                name: "org-b".into(),
                display_name: "Org B".into(),
                default_team_id: a.team_id("engineering").unwrap(),
                password: String::new(),
            })
            .await
            .unwrap();
        let acceptor = match made_by {
            MadeBy::Console => login(&b, "sysadmin", "Sys@dmin-sample1").await,
            MadeBy::Bot => Client::new(b.site_url(), BOT_TOKEN, ClientOptions::default()).unwrap(),
        };
        acceptor
            .accept_invite(&AcceptInvite {
                invite: created.invite,
                name: "org-a".into(),
                display_name: "Org A".into(),
                default_team_id: b.team_id(default_team).unwrap(),
                password: created.password,
            })
            .await
            .unwrap();
        World {
            a,
            b,
            a_admin,
            remote_id: created.remote_cluster.remote_id,
            dir: tempfile::tempdir().unwrap(),
            extra: extra
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            callback: std::sync::Mutex::new(None),
        }
    }

    pub async fn start_bot(&self) -> RunningBot {
        self.start_bot_with(fast()).await
    }

    /// Like [`World::start_bot`], with `tuning` (e.g. a clock the test moves).
    pub async fn start_bot_with(&self, tuning: Tuning) -> RunningBot {
        let previous = *self.callback.lock().unwrap();
        let listener = match previous {
            Some(addr) => {
                let mut tries = 0;
                loop {
                    match tokio::net::TcpListener::bind(addr).await {
                        Ok(l) => break l,
                        Err(e) if tries < 100 => {
                            tries += 1;
                            let _ = e;
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                        Err(e) => panic!("cannot bind the callback address again: {e}"),
                    }
                }
            }
            None => tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        };
        *self.callback.lock().unwrap() = Some(listener.local_addr().unwrap());
        let public = format!("http://{}", listener.local_addr().unwrap());
        let mut env: HashMap<String, String> = [
            ("SHAREBOT_MATTERMOST__URL", self.b.site_url()),
            ("SHAREBOT_MATTERMOST__TOKEN", BOT_TOKEN),
            ("SHAREBOT_MATTERMOST__ADMIN_CHANNEL", "engineering/admins"),
            ("SHAREBOT_SERVER__PUBLIC_URL", public.as_str()),
            ("SHAREBOT_SERVER__SECRET", SIGNING),
            ("SHAREBOT_REVIEW__RECONCILE_EVERY", "1s"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        env.insert(
            "SHAREBOT_DATABASE__URL".into(),
            format!("sqlite://{}", self.dir.path().join("bot.db").display()),
        );
        for (k, v) in &self.extra {
            env.insert(k.clone(), v.clone());
        }
        let config = Config::load_from(None, &env).expect("valid test configuration");
        let bot = sharebot::domain::start(&config, tuning, Some(listener))
            .await
            .expect("bot starts");
        // Posts made before the WebSocket is up reach the bot only through its catch-up;
        // tests that drive it by events wait for the connection, as a person would see it.
        bot.wait_connected(Duration::from_secs(10)).await;
        bot
    }

    /// Org A shares a new channel with Org B; returns its id (the same on both sides).
    pub async fn share(&self, name: &str, display: &str) -> String {
        let channel = self
            .a_admin
            .create_channel(&NewChannel {
                team_id: self.a.team_id("engineering").unwrap(),
                name: name.into(),
                display_name: display.into(),
                channel_type: "O".into(),
                purpose: "Coordinating the launch".into(),
                ..NewChannel::default()
            })
            .await
            .unwrap();
        self.a_admin
            .invite_remote_to_channel(&self.remote_id, &channel.id)
            .await
            .unwrap();
        channel.id
    }

    pub async fn admin(&self, name: &str) -> Admin {
        let password = if name == "sysadmin" {
            "Sys@dmin-sample1"
        } else {
            "Sys@dmin-sample2"
        };
        self.user(name, password).await
    }

    /// A person logged in on Org B.
    pub async fn user(&self, name: &str, password: &str) -> Admin {
        let token = session(&self.b, name, password).await;
        let client = Client::new(self.b.site_url(), &token, ClientOptions::default()).unwrap();
        let id = self.b.user_id(name).unwrap();
        Admin {
            client,
            id,
            token,
            site: self.b.site_url().to_string(),
        }
    }

    /// A client of Org B with the bot's token (what the bot itself sees).
    pub fn b_bot(&self) -> Client {
        Client::new(self.b.site_url(), BOT_TOKEN, ClientOptions::default()).unwrap()
    }

    pub async fn store(&self) -> Store {
        let url = format!("sqlite://{}", self.dir.path().join("bot.db").display());
        Store::connect_url(&url, &url, 1).await.unwrap()
    }
}

pub fn fast() -> Tuning {
    Tuning {
        notice_sync_wait: Duration::from_secs(5),
        ..super::bot::fast_tuning()
    }
}

pub struct Admin {
    pub client: Client,
    pub id: String,
    pub token: String,
    pub site: String,
}

impl Admin {
    /// The bot's posts in this admin's DM with the bot, oldest first.
    pub async fn dm_posts(&self, bot_id: &str) -> Vec<Post> {
        let dm = self
            .client
            .create_direct_channel(&self.id, bot_id)
            .await
            .unwrap();
        let list = self
            .client
            .channel_posts(
                &dm.id,
                &ChannelPostsQuery {
                    page: Some(0),
                    per_page: Some(200),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let mut posts: Vec<Post> = list
            .ordered()
            .into_iter()
            .filter(|p| p.user_id == bot_id)
            .cloned()
            .collect();
        posts.reverse();
        posts
    }

    /// The review DM about the channel `display` (a root post with attachments).
    pub async fn review_dm(&self, bot_id: &str, display: &str) -> Option<Post> {
        self.dm_posts(bot_id)
            .await
            .into_iter()
            .find(|p| p.root_id.is_empty() && attachment_text(p).contains(display))
    }

    /// Clicks an action as the web app does; returns the status and the JSON answer.
    pub async fn click(
        &self,
        post_id: &str,
        action_id: &str,
        selected: Option<&str>,
    ) -> (u16, Value) {
        let (status, body) = harness::call(
            &self.site,
            Method::POST,
            &format!("/api/v4/posts/{post_id}/actions/{action_id}"),
            Some(&self.token),
            Some(json!({"selected_option": selected.unwrap_or_default()})),
        )
        .await;
        (status.as_u16(), body)
    }
}

pub fn attachment_text(post: &Post) -> String {
    post.props
        .attachments
        .iter()
        .map(|a| a.text.clone())
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn action_ids(post: &Post) -> Vec<String> {
    post.props
        .attachments
        .iter()
        .flat_map(|a| a.actions.iter().map(|x| x.id.clone()))
        .collect()
}

/// Polls every 50 ms for up to 20 s.
pub async fn wait<T, F, Fut>(what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    super::sandbox::eventually_within(what, Duration::from_secs(20), check).await
}

pub fn bot_id(world: &World) -> String {
    world.b.user_id("sharebot").unwrap()
}

pub async fn channel_on_b(
    world: &World,
    channel_id: &str,
) -> sharebot::mattermost::models::Channel {
    world.b_bot().get_channel(channel_id).await.unwrap()
}

/// Both admins' review DMs about `display`.
pub async fn both_dms(world: &World, display: &str) -> (Admin, Post, Admin, Post) {
    let bot = bot_id(world);
    let one = world.admin("sysadmin").await;
    let two = world.admin("sysadmin2").await;
    let p1 = wait("sysadmin's review DM", || async {
        one.review_dm(&bot, display).await
    })
    .await;
    let p2 = wait("sysadmin2's review DM", || async {
        two.review_dm(&bot, display).await
    })
    .await;
    (one, p1, two, p2)
}

/// Waits until `admin`'s DM about `display` shows `text`; returns it.
pub async fn dm_showing(world: &World, admin: &Admin, display: &str, text: &str) -> Post {
    let bot = bot_id(world);
    wait(&format!("a DM showing {text:?}"), || async {
        admin
            .review_dm(&bot, display)
            .await
            .filter(|p| attachment_text(p).contains(text))
    })
    .await
}

impl Admin {
    /// Posts `message` in `channel_id` (in thread `root_id` when not empty).
    pub async fn post(&self, channel_id: &str, message: &str, root_id: &str) -> Post {
        self.client
            .create_post(&Post {
                channel_id: channel_id.into(),
                message: message.into(),
                root_id: root_id.into(),
                ..Post::default()
            })
            .await
            .unwrap()
    }

    /// The bot's replies in thread `root_id` of `channel_id`, oldest first.
    pub async fn replies(&self, channel_id: &str, root_id: &str, bot_id: &str) -> Vec<Post> {
        let list = self
            .client
            .channel_posts(
                channel_id,
                &ChannelPostsQuery {
                    page: Some(0),
                    per_page: Some(200),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let mut posts: Vec<Post> = list
            .ordered()
            .into_iter()
            .filter(|p| p.user_id == bot_id && p.root_id == root_id)
            .cloned()
            .collect();
        posts.reverse();
        posts
    }

    /// Submits a dialog as the web app does (`POST /actions/dialogs/submit`); returns the
    /// status and the JSON answer.
    pub async fn submit_dialog(&self, body: &Value) -> (u16, Value) {
        let (status, body) = harness::call(
            &self.site,
            Method::POST,
            "/api/v4/actions/dialogs/submit",
            Some(&self.token),
            Some(body.clone()),
        )
        .await;
        (status.as_u16(), body)
    }

    /// The DM channel between this person and the bot.
    pub async fn dm_with(&self, bot_id: &str) -> String {
        self.client
            .create_direct_channel(&self.id, bot_id)
            .await
            .unwrap()
            .id
    }
}

/// A post's text as a person reads it: the message and every attachment's text.
pub fn full_text(post: &Post) -> String {
    let mut text = post.message.clone();
    for a in &post.props.attachments {
        text.push('\n');
        text.push_str(&a.text);
    }
    text
}

/// Sets a user's system roles on Org B as an admin would in the System Console.
pub async fn set_roles(world: &World, user: &str, roles: &str) {
    let token = session(&world.b, "sysadmin", "Sys@dmin-sample1").await;
    let (status, body) = harness::call(
        world.b.site_url(),
        Method::PUT,
        &format!("/api/v4/users/{}/roles", world.b.user_id(user).unwrap()),
        Some(&token),
        Some(json!({ "roles": roles })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

/// The request about `channel` once its decision is recorded as finished, and its audit: the
/// copies show an outcome as soon as Mattermost has it, and the bookkeeping (audit row, the
/// finished mark) follows moments later.
pub async fn settled(
    store: &sharebot::store::Store,
    channel: &str,
) -> (
    sharebot::store::ReviewRequest,
    Vec<sharebot::store::AuditEntry>,
) {
    wait("the decision recorded as finished", || async {
        let requests = store.requests_for_channel(channel).await.ok()?;
        let request = requests.into_iter().next()?;
        if request.state == sharebot::store::RequestState::Pending || request.deciding.is_some() {
            return None;
        }
        let audit = store.audit_for(&request.id).await.ok()?;
        Some((request, audit))
    })
    .await
}
