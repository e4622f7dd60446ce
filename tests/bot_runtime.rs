//! The bot against the sandbox, as in production: start-up checks, readiness, a dropped
//! WebSocket resumed without losing a `posted` event, a fresh connection after an outage
//! answered by a resync, 429s waited out, 5xx retried only where that is safe.

mod support;

use support::harness;
use support::sandbox::until;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sharebot::bot::{self, BotError, Domain, RunningBot, Tuning};
use sharebot::config::Config;
use sharebot::mattermost::models::Post;
use sharebot::mattermost::{Backoff, Client, Event};
use sharebot::sandbox::faults::{FaultSettings, RateLimit};
use sharebot::sandbox::{RunningSandbox, SandboxOptions};

const BOT_TOKEN: &str = "sandboxbottoken0000000000a";
const SIGNING: &str = "test-signing-secret-0123456789abcdef";

/// Records what the bot's domain receives.
#[derive(Default)]
struct Recording {
    events: Mutex<Vec<Event>>,
    reconciles: Mutex<Vec<String>>,
}

impl Domain for Recording {
    async fn event(&self, event: Event) {
        self.events.lock().unwrap().push(event);
    }
    async fn reconcile(&self, reason: String) {
        self.reconciles.lock().unwrap().push(reason);
    }
}

impl Recording {
    fn posted_messages(&self) -> Vec<(String, String)> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter_map(|e| match e {
                Event::Posted { post, .. } => Some((post.id.clone(), post.message.clone())),
                _ => None,
            })
            .collect()
    }
    fn reconciles(&self) -> usize {
        self.reconciles.lock().unwrap().len()
    }
}

async fn start_sandbox() -> RunningSandbox {
    harness::start(SandboxOptions {
        bot_token: Some(BOT_TOKEN.into()),
        ..SandboxOptions::default()
    })
    .await
}

fn config(sandbox_url: &str, db: &std::path::Path, extra: &[(&str, &str)]) -> Config {
    let mut env: HashMap<String, String> = [
        ("SHAREBOT_MATTERMOST__URL", sandbox_url),
        ("SHAREBOT_MATTERMOST__TOKEN", BOT_TOKEN),
        ("SHAREBOT_MATTERMOST__ADMIN_CHANNEL", "engineering/admins"),
        ("SHAREBOT_SERVER__LISTEN", "127.0.0.1:0"),
        ("SHAREBOT_SERVER__PUBLIC_URL", "http://127.0.0.1:9"),
        ("SHAREBOT_SERVER__SECRET", SIGNING),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    env.insert(
        "SHAREBOT_DATABASE__URL".into(),
        format!("sqlite://{}", db.join("bot.db").display()),
    );
    for (k, v) in extra {
        env.insert(k.to_string(), v.to_string());
    }
    Config::load_from(None, &env).expect("valid test configuration")
}

fn fast() -> Tuning {
    support::bot::fast_tuning()
}

async fn ready(bot: &RunningBot) -> reqwest::StatusCode {
    reqwest::get(format!("http://{}/readyz", bot.http_addr))
        .await
        .unwrap()
        .status()
}

async fn post(client: &Client, channel_id: &str, message: &str) -> Post {
    client
        .create_post(&Post {
            channel_id: channel_id.into(),
            message: message.into(),
            ..Post::default()
        })
        .await
        .expect("post created")
}

#[tokio::test]
async fn starts_against_the_sandbox_and_becomes_ready() {
    let sandbox = start_sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let domain = Arc::new(Recording::default());
    let bot = bot::start_with_domain(&config(sandbox.site_url(), dir.path(), &[]), fast(), domain)
        .await
        .expect("bot starts");
    assert_eq!(bot.identity.user.username, "sharebot");
    assert_eq!(bot.identity.admin_channel.name, "admins");
    assert_eq!(bot.identity.inbox_team.name, "shared-inbox");
    let mut link = bot.link.clone();
    tokio::time::timeout(
        Duration::from_secs(10),
        link.wait_for(|l| *l == sharebot::http::MattermostLink::Connected),
    )
    .await
    .expect("connects")
    .unwrap();
    assert_eq!(ready(&bot).await, 200);
    let metrics = reqwest::get(format!("http://{}/metrics", bot.http_addr))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("sharebot_mattermost_requests_total{method=\"GET\",route=\"/api/v4/users/me\",status=\"200\"} 1"),
        "{metrics}"
    );
    bot.shutdown().await.unwrap();

    // The resume point survives the process (and holds nothing secret).
    let url = format!("sqlite://{}", dir.path().join("bot.db").display());
    let store = sharebot::store::Store::connect_url(&url, &url, 1)
        .await
        .unwrap();
    let saved = bot::load_resume_point(&store)
        .await
        .expect("resume point saved");
    assert_eq!(saved.connection_id.len(), 26);
    assert!(saved.next_seq >= 1);
    let raw = store.kv_get(bot::RESUME_KEY).await.unwrap().unwrap();
    assert!(!raw.contains(BOT_TOKEN));
    store.close().await;
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_wrong_token_fails_start_up_with_a_clear_message() {
    let sandbox = start_sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        sandbox.site_url(),
        dir.path(),
        &[("SHAREBOT_MATTERMOST__TOKEN", "notarealtoken0000000000000")],
    );
    let err = bot::start_with_domain(&cfg, fast(), Arc::new(Recording::default()))
        .await
        .err()
        .expect("refused");
    assert!(
        matches!(err, BotError::TokenRefused { status: 401, .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("Mattermost refused the bot token (HTTP 401")
            && text.contains("SHAREBOT_MATTERMOST__TOKEN"),
        "{text}"
    );
    assert!(!text.contains("notarealtoken"), "{text}");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_persons_token_is_refused_because_the_bot_must_be_a_bot() {
    let sandbox = start_sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    // Even a system admin's token: every post and decision would look like theirs.
    for (user, password) in [("sysadmin", "Sys@dmin-sample1"), ("user-1", "SampleUs@r-1")] {
        let token = harness::session(sandbox.site_url(), user, password).await;
        let cfg = config(
            sandbox.site_url(),
            dir.path(),
            &[("SHAREBOT_MATTERMOST__TOKEN", &token)],
        );
        let err = bot::start_with_domain(&cfg, fast(), Arc::new(Recording::default()))
            .await
            .err()
            .expect("refused");
        let text = err.to_string();
        assert!(
            text.contains(&format!(
                "belongs to @{user}, a person's account, not a bot"
            )) && text.contains("would look like that person's")
                && text.contains("Bot Accounts"),
            "{text}"
        );
        assert!(!text.contains(&token), "{text}");
    }
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_bot_without_the_admin_role_is_refused_for_lacking_it() {
    const PLAIN_BOT_TOKEN: &str = "plainbottoken000000000000a";
    let mut seed = sharebot::sandbox::seed::Seed::default();
    let mut plain = seed
        .users
        .iter()
        .find(|u| u.bot)
        .cloned()
        .expect("the seed has a bot");
    plain.username = "plain-bot".into();
    plain.roles = None;
    plain.token = Some(PLAIN_BOT_TOKEN.into());
    seed.users.push(plain);
    let sandbox = harness::start(SandboxOptions {
        bot_token: Some(BOT_TOKEN.into()),
        seed,
        ..SandboxOptions::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        sandbox.site_url(),
        dir.path(),
        &[("SHAREBOT_MATTERMOST__TOKEN", PLAIN_BOT_TOKEN)],
    );
    let err = bot::start_with_domain(&cfg, fast(), Arc::new(Recording::default()))
        .await
        .err()
        .expect("refused");
    let text = err.to_string();
    assert!(
        text.contains("the bot account @plain-bot lacks the system_admin role"),
        "{text}"
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_public_admin_channel_is_refused() {
    let sandbox = start_sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        sandbox.site_url(),
        dir.path(),
        &[(
            "SHAREBOT_MATTERMOST__ADMIN_CHANNEL",
            "engineering/town-square",
        )],
    );
    let err = bot::start_with_domain(&cfg, fast(), Arc::new(Recording::default()))
        .await
        .err()
        .expect("refused");
    let text = err.to_string();
    assert!(
        text.contains(
            "the admin channel engineering/town-square (mattermost.admin_channel) is public"
        ) && text.contains("Convert to Private Channel"),
        "{text}"
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn members_of_the_admin_channel_who_are_not_system_admins_are_warned_about() {
    let sandbox = start_sandbox().await;
    let admin = harness::admin_client(sandbox.site_url()).await;
    let channel = sandbox.channel_id("engineering", "admins").unwrap();
    let warning = |sandbox: &RunningSandbox| {
        sandbox.count_posts(|p| {
            p.channel_id == channel && p.message.contains("members who are not system admins")
        })
    };
    // Only system admins (and the bot): no warning.
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(sandbox.site_url(), dir.path(), &[]);
    let bot = bot::start_with_domain(&cfg, fast(), Arc::new(Recording::default()))
        .await
        .expect("starts");
    bot.shutdown().await.unwrap();
    assert_eq!(warning(&sandbox), 0);

    // A plain user joins: start-up still succeeds, and says so in the channel.
    admin
        .add_channel_member(&channel, &sandbox.user_id("user-1").unwrap())
        .await
        .unwrap();
    let bot = bot::start_with_domain(&cfg, fast(), Arc::new(Recording::default()))
        .await
        .expect("starts with a warning");
    let post = sandbox
        .find_post(|p| {
            p.channel_id == channel && p.message.contains("members who are not system admins")
        })
        .expect("a warning in the admin channel");
    assert_eq!(post.user_id, bot.identity.user.id);
    assert!(post.message.contains("@user-1"), "{}", post.message);
    assert!(!post.message.contains("@sysadmin"), "{}", post.message);
    assert!(!post.message.contains("@sharebot"), "{}", post.message);
    bot.shutdown().await.unwrap();
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_missing_admin_channel_is_explained_or_created_when_configured() {
    let sandbox = start_sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        sandbox.site_url(),
        dir.path(),
        &[(
            "SHAREBOT_MATTERMOST__ADMIN_CHANNEL",
            "marketing/sharebot-ops",
        )],
    );
    let err = bot::start_with_domain(&cfg, fast(), Arc::new(Recording::default()))
        .await
        .err()
        .expect("refused");
    assert!(
        err.to_string().contains(
            "the admin channel marketing/sharebot-ops (mattermost.admin_channel) does not exist"
        ),
        "{err}"
    );
    let cfg = config(
        sandbox.site_url(),
        dir.path(),
        &[
            (
                "SHAREBOT_MATTERMOST__ADMIN_CHANNEL",
                "marketing/sharebot-ops",
            ),
            ("SHAREBOT_MATTERMOST__CREATE_MISSING", "true"),
            ("SHAREBOT_REVIEW__INBOX_TEAM", "review-inbox"),
        ],
    );
    let bot = bot::start_with_domain(&cfg, fast(), Arc::new(Recording::default()))
        .await
        .expect("creates what is missing");
    assert_eq!(bot.identity.admin_channel.channel_type, "P");
    assert_eq!(bot.identity.inbox_team.team_type, "I");
    let admin = harness::admin_client(sandbox.site_url()).await;
    let team = admin
        .team_by_name("review-inbox")
        .await
        .expect("inbox team created");
    assert_eq!(team.name, "review-inbox");
    let members = admin
        .channel_members(&bot.identity.admin_channel.id)
        .await
        .unwrap();
    assert!(members.iter().any(|m| m.user_id == bot.identity.user.id));
    // Every system admin is in what was created; nobody else is.
    for user in ["sysadmin", "sysadmin2"] {
        let id = sandbox.user_id(user).unwrap();
        assert!(
            members.iter().any(|m| m.user_id == id),
            "{user} is not in the created admin channel"
        );
        admin
            .team_member(&team.id, &id)
            .await
            .unwrap_or_else(|e| panic!("{user} is not in the created inbox team: {e}"));
    }
    let plain = sandbox.user_id("user-1").unwrap();
    assert!(!members.iter().any(|m| m.user_id == plain));
    assert!(admin.team_member(&team.id, &plain).await.is_err());
    // What was created is said in the channel.
    let notice = sandbox
        .find_post(|p| {
            p.channel_id == bot.identity.admin_channel.id && p.message.starts_with("I created")
        })
        .expect("a post saying what was created");
    for part in [
        "~sharebot-ops",
        "`marketing`",
        "`review-inbox`",
        "@sysadmin",
        "@sysadmin2",
    ] {
        assert!(notice.message.contains(part), "{part}: {}", notice.message);
    }
    bot.shutdown().await.unwrap();
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_dropped_socket_resumes_without_losing_or_repeating_a_posted_event() {
    let sandbox = start_sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let domain = Arc::new(Recording::default());
    let bot = bot::start_with_domain(
        &config(sandbox.site_url(), dir.path(), &[]),
        fast(),
        domain.clone(),
    )
    .await
    .unwrap();
    let channel = bot.identity.admin_channel.id.clone();
    let admin = harness::admin_client(sandbox.site_url()).await;
    let mut link = bot.link.clone();
    link.wait_for(|l| *l == sharebot::http::MattermostLink::Connected)
        .await
        .unwrap();

    post(&admin, &channel, "before the drop").await;
    until("the first post arrives", || {
        domain.posted_messages().len() == 1
    })
    .await;
    for round in 0..3 {
        sandbox.hub().drop_all();
        for i in 0..5 {
            post(&admin, &channel, &format!("round {round} message {i}")).await;
        }
    }
    until("all 16 posts arrive", || {
        domain.posted_messages().len() >= 16
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let posted = domain.posted_messages();
    let mut ids: Vec<&String> = posted.iter().map(|(id, _)| id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(posted.len(), 16, "no event repeated: {posted:?}");
    assert_eq!(ids.len(), 16);
    assert_eq!(
        domain.reconciles(),
        0,
        "a resumed connection loses nothing, so no resync"
    );
    assert_eq!(ready(&bot).await, 200);
    // The resume point is persisted (nothing secret in it).
    bot.shutdown().await.unwrap();
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_fresh_connection_after_an_outage_triggers_a_resync_and_readyz_follows_the_socket() {
    let sandbox = start_sandbox().await;
    let addr = sandbox.addr();
    let dir = tempfile::tempdir().unwrap();
    let domain = Arc::new(Recording::default());
    let bot = bot::start_with_domain(
        &config(sandbox.site_url(), dir.path(), &[]),
        fast(),
        domain.clone(),
    )
    .await
    .unwrap();
    let mut link = bot.link.clone();
    link.wait_for(|l| *l == sharebot::http::MattermostLink::Connected)
        .await
        .unwrap();
    assert_eq!(ready(&bot).await, 200);

    // The server goes away: the socket drops and the bot is not ready.
    sandbox.shutdown().await;
    link.wait_for(|l| *l == sharebot::http::MattermostLink::Disconnected)
        .await
        .unwrap();
    assert_eq!(ready(&bot).await, 503);

    // It comes back rebuilt (fresh data, new ids; no resumable connection): the bot
    // reconnects and resyncs, but its places are gone, so it is not ready and says why.
    let sandbox = harness::start(SandboxOptions {
        listen: addr,
        bot_token: Some(BOT_TOKEN.into()),
        ..SandboxOptions::default()
    })
    .await;
    tokio::time::timeout(
        Duration::from_secs(30),
        link.wait_for(|l| matches!(l, sharebot::http::MattermostLink::PlacesGone(_))),
    )
    .await
    .expect("readiness says the places are gone")
    .unwrap();
    until("a resync is requested", || domain.reconciles() == 1).await;
    let answer = reqwest::get(format!("http://{}/readyz", bot.http_addr))
        .await
        .unwrap();
    assert_eq!(answer.status(), 503);
    let body: serde_json::Value = answer.json().await.unwrap();
    let why = body["checks"]["mattermost"].as_str().unwrap().to_owned();
    for part in [
        "the bot account @sharebot",
        "the admin channel engineering/admins",
        "the inbox team `shared-inbox`",
        "Restart sharebot",
    ] {
        assert!(why.contains(part), "{part}: {why}");
    }
    bot.shutdown().await.unwrap();
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_fresh_connection_to_the_same_server_rereads_the_places_and_stays_ready() {
    let sandbox = start_sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let domain = Arc::new(Recording::default());
    let bot = bot::start_with_domain(
        &config(sandbox.site_url(), dir.path(), &[]),
        fast(),
        domain.clone(),
    )
    .await
    .unwrap();
    let mut link = bot.link.clone();
    link.wait_for(|l| *l == sharebot::http::MattermostLink::Connected)
        .await
        .unwrap();
    // The server forgets the connection: the next one is fresh, the places are still there.
    sandbox.hub().forget_sessions();
    until("a resync is requested", || domain.reconciles() == 1).await;
    link.wait_for(|l| *l == sharebot::http::MattermostLink::Connected)
        .await
        .unwrap();
    assert_eq!(ready(&bot).await, 200);

    // The admin channel is archived under the running bot: the next fresh connection says so.
    let admin = harness::admin_client(sandbox.site_url()).await;
    admin
        .archive_channel(&bot.identity.admin_channel.id)
        .await
        .unwrap();
    sandbox.hub().forget_sessions();
    tokio::time::timeout(
        Duration::from_secs(30),
        link.wait_for(|l| matches!(l, sharebot::http::MattermostLink::PlacesGone(_))),
    )
    .await
    .expect("readiness says the places are gone")
    .unwrap();
    let body: serde_json::Value = reqwest::get(format!("http://{}/readyz", bot.http_addr))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let why = body["checks"]["mattermost"].as_str().unwrap();
    assert!(
        why.contains("the admin channel engineering/admins (archived)"),
        "{why}"
    );
    assert!(!why.contains("@sharebot"), "{why}");
    bot.shutdown().await.unwrap();
    sandbox.shutdown().await;
}

#[tokio::test]
async fn rate_limited_creates_are_waited_out_and_none_is_lost_or_doubled() {
    let sandbox = start_sandbox().await;
    let admin = harness::admin_client(sandbox.site_url()).await;
    let channel = admin
        .channel_by_name("engineering", "admins")
        .await
        .unwrap()
        .id;
    sandbox.faults().set(FaultSettings {
        rate_limit: Some(RateLimit {
            per_sec: 5,
            max_burst: 2,
            vary_by_user: true,
        }),
        ..FaultSettings::default()
    });
    let bot_client = Client::new(sandbox.site_url(), BOT_TOKEN, fast().client).unwrap();
    let mut tasks = Vec::new();
    for i in 0..15 {
        let c = bot_client.clone();
        let channel = channel.clone();
        tasks.push(tokio::spawn(async move {
            post(&c, &channel, &format!("burst {i}")).await.id
        }));
    }
    let mut created = Vec::new();
    for t in tasks {
        created.push(t.await.unwrap());
    }
    sandbox.faults().set(FaultSettings::default());
    let list = admin
        .channel_posts(
            &channel,
            &sharebot::mattermost::ChannelPostsQuery::default(),
        )
        .await
        .unwrap();
    let bursts: Vec<&Post> = list
        .posts
        .values()
        .filter(|p| p.message.starts_with("burst "))
        .collect();
    assert_eq!(bursts.len(), 15, "every post exists exactly once");
    created.sort();
    created.dedup();
    assert_eq!(created.len(), 15);
    sandbox.shutdown().await;
}

/// Counts answers by status for one route.
#[derive(Default)]
struct Statuses(Mutex<Vec<(String, String, Option<u16>)>>);

impl sharebot::mattermost::ApiObserver for Statuses {
    fn api_call(&self, method: &str, route: &str, status: Option<u16>, _elapsed: Duration) {
        self.0
            .lock()
            .unwrap()
            .push((method.into(), route.into(), status));
    }
}

impl Statuses {
    fn count(&self, method: &str, route: &str, status: u16) -> usize {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(m, r, s)| m == method && r == route && *s == Some(status))
            .count()
    }
}

#[tokio::test]
async fn server_errors_are_retried_on_reads_and_surfaced_on_creates() {
    let sandbox = start_sandbox().await;
    let statuses = Arc::new(Statuses::default());
    let mut options = fast().client;
    // Retries spread over about half a second: time enough to see a failure and recover.
    options.backoff = Backoff {
        base: Duration::from_millis(60),
        cap: Duration::from_millis(250),
    };
    options.observer = Some(statuses.clone());
    let client = Client::new(sandbox.site_url(), BOT_TOKEN, options).unwrap();
    let channel = client
        .channel_by_name("engineering", "admins")
        .await
        .unwrap()
        .id;

    // Every answer fails: a create is tried once and the error surfaced.
    sandbox.faults().set(FaultSettings {
        error_rate: 1.0,
        ..FaultSettings::default()
    });
    let err = client
        .create_post(&Post {
            channel_id: channel.clone(),
            message: "must not be sent twice".into(),
            ..Post::default()
        })
        .await
        .expect_err("surfaced");
    assert!(err.status().is_some_and(|s| s >= 500), "{err:?}");
    let failed_creates: usize = [500, 503]
        .iter()
        .map(|s| statuses.count("POST", "/api/v4/posts", *s))
        .sum();
    assert_eq!(failed_creates, 1, "a create is never retried after a 5xx");

    // A read is retried: it succeeds once the server recovers.
    let read = tokio::spawn({
        let client = client.clone();
        let channel = channel.clone();
        async move { client.get_channel(&channel).await }
    });
    let route = "/api/v4/channels/{channel_id}";
    until("a failed read is seen", || {
        statuses.count("GET", route, 503) + statuses.count("GET", route, 500) >= 1
    })
    .await;
    sandbox.faults().set(FaultSettings::default());
    let channel_back = read.await.unwrap().expect("the retried read succeeds");
    assert_eq!(channel_back.id, channel);
    assert_eq!(statuses.count("GET", route, 200), 1);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_restarted_bot_resumes_its_connection_and_gets_what_was_posted_while_it_was_down() {
    let sandbox = start_sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(sandbox.site_url(), dir.path(), &[]);
    let first = Arc::new(Recording::default());
    let bot = bot::start_with_domain(&cfg, fast(), first.clone())
        .await
        .unwrap();
    let channel = bot.identity.admin_channel.id.clone();
    let admin = harness::admin_client(sandbox.site_url()).await;
    let mut link = bot.link.clone();
    link.wait_for(|l| *l == sharebot::http::MattermostLink::Connected)
        .await
        .unwrap();
    post(&admin, &channel, "while running").await;
    until("the first post arrives", || {
        first.posted_messages().len() == 1
    })
    .await;
    bot.shutdown().await.unwrap();

    post(&admin, &channel, "while the bot was down").await;

    let second = Arc::new(Recording::default());
    let bot = bot::start_with_domain(&cfg, fast(), second.clone())
        .await
        .unwrap();
    until("the missed post arrives", || {
        second.posted_messages().len() == 1
    })
    .await;
    assert_eq!(second.posted_messages()[0].1, "while the bot was down");
    assert_eq!(
        second.reconciles(),
        0,
        "the connection was resumed, nothing was lost"
    );
    bot.shutdown().await.unwrap();
    sandbox.shutdown().await;
}

/// Records events, and never finishes one whose message is "hold" (a process busy with it).
#[derive(Default)]
struct Holding {
    inner: Recording,
}

impl Domain for Holding {
    async fn event(&self, event: Event) {
        let hold = matches!(&event, Event::Posted { post, .. } if post.message == "hold");
        self.inner.event(event).await;
        if hold {
            std::future::pending::<()>().await;
        }
    }
    async fn reconcile(&self, reason: String) {
        self.inner.reconcile(reason).await;
    }
}

#[tokio::test]
async fn an_event_the_domain_had_not_finished_when_killed_is_replayed_after_restart() {
    let sandbox = start_sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(sandbox.site_url(), dir.path(), &[]);
    let first = Arc::new(Holding::default());
    let bot = bot::start_with_domain(&cfg, fast(), first.clone())
        .await
        .unwrap();
    let channel = bot.identity.admin_channel.id.clone();
    let admin = harness::admin_client(sandbox.site_url()).await;
    assert!(bot.wait_connected(Duration::from_secs(10)).await);
    post(&admin, &channel, "handled").await;
    post(&admin, &channel, "hold").await;
    until("both posts reach the domain", || {
        first.inner.posted_messages().len() == 2
    })
    .await;
    // Many flush intervals pass while the domain is still busy with "hold".
    tokio::time::sleep(Duration::from_millis(300)).await;
    bot.kill().await;

    let second = Arc::new(Recording::default());
    let bot = bot::start_with_domain(&cfg, fast(), second.clone())
        .await
        .unwrap();
    until("the unfinished post is delivered again", || {
        !second.posted_messages().is_empty()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let again: Vec<String> = second
        .posted_messages()
        .into_iter()
        .map(|(_, m)| m)
        .collect();
    assert_eq!(again, ["hold"], "only the unfinished event is replayed");
    assert_eq!(second.reconciles(), 0, "resumed, nothing lost");
    bot.shutdown().await.unwrap();
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_burst_under_the_servers_default_rate_limit_meets_no_429_storm() {
    let sandbox = start_sandbox().await;
    // A system admin turns the server's rate limiting on, with its defaults: 10 requests a
    // second, bursts of 100, keyed by remote address.
    let token = harness::session(sandbox.site_url(), harness::ADMIN, harness::ADMIN_PASSWORD).await;
    let (status, body) = harness::call(
        sandbox.site_url(),
        reqwest::Method::PUT,
        "/api/v4/config/patch",
        Some(&token),
        Some(serde_json::json!({"RateLimitSettings": {"Enable": true}})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["RateLimitSettings"]["PerSec"], 10);
    assert_eq!(body["RateLimitSettings"]["MaxBurst"], 100);

    // 200 reads at once through the bot's client: twice the burst.
    let client = Client::new(sandbox.site_url(), BOT_TOKEN, fast().client).unwrap();
    let reads = (0..200).map(|_| {
        let client = client.clone();
        tokio::spawn(async move { client.me().await })
    });
    let mut failed = Vec::new();
    for read in reads.collect::<Vec<_>>() {
        if let Err(err) = read.await.unwrap() {
            failed.push(err.to_string());
        }
    }
    assert!(failed.is_empty(), "every read succeeds: {failed:?}");
    let refused = sandbox.faults().rate_limited_answers();
    assert!(refused <= 2, "the server answered {refused} reads with 429");
    sandbox.shutdown().await;
}
