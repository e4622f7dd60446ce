//! The chat commands end to end: admins (and a plain user) mention `@sharebot` in the admin
//! channel or DM it, read the threaded answers, click the buttons and submit the dialogs,
//! against two sandbox organizations and the real bot.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use sharebot::mattermost::models::{NewChannel, NewRemoteCluster, Post, RemoteClusterFilter};
use sharebot::store::{CommandClaim, Policy, RequestState};
use support::asking::*;
use support::logs::Logs;
use support::sandbox::{next_named, socket};
use support::world::*;

/// Every post in a channel, as text.
async fn channel_text(who: &Admin, channel: &str) -> String {
    let list = who
        .client
        .channel_posts(
            channel,
            &sharebot::mattermost::ChannelPostsQuery {
                page: Some(0),
                per_page: Some(200),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    list.ordered()
        .into_iter()
        .map(full_text)
        .collect::<Vec<_>>()
        .join("\n")
}

/// The database file's bytes, as text.
fn database_text(world: &World) -> String {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(world.dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.to_string_lossy().contains("bot.db") {
            all.extend(std::fs::read(path).unwrap());
        }
    }
    String::from_utf8_lossy(&all).to_string()
}

/// The invite code in the invitation DM (which must not hold the password).
fn invitation(dm: &str) -> String {
    assert!(
        !dm.contains("Password for"),
        "the password travels with the code:\n{dm}"
    );
    dm.split("```")
        .nth(1)
        .expect("the code block")
        .trim()
        .to_string()
}

/// The password of the next invitation, from the ephemeral post the admin's client receives
/// over the WebSocket (the only place it ever shows).
async fn password_over_websocket(ws: &mut support::sandbox::Socket) -> String {
    loop {
        let event = next_named(ws, "ephemeral_message").await;
        let post: Post = serde_json::from_str(event["data"]["post"].as_str().unwrap()).unwrap();
        if let Some(rest) = post.message.strip_prefix("Password for the invitation") {
            assert!(
                post.message.contains("does not store this message"),
                "{}",
                post.message
            );
            return rest
                .split(": `")
                .nth(1)
                .and_then(|r| r.split('`').next())
                .expect("the password")
                .to_string();
        }
    }
}

#[tokio::test]
async fn help_errors_and_who_may_run_what() {
    let world = World::bare().await;
    let bot = world.start_bot().await;
    let one = world.admin("sysadmin").await;

    says(
        &world,
        &one,
        "@sharebot help",
        &[
            "| `connect <name>",
            "| `audit [count] [--connection <name>]",
        ],
    )
    .await;
    says(
        &world,
        &one,
        "@sharebot help share",
        &[
            "share ~channel with <connection>",
            "`@sharebot share ~launch-plan with org-b`",
        ],
    )
    .await;
    let bare = ask_admins(&world, &one, "@sharebot").await;
    assert!(
        bare.contains("| Command |"),
        "a bare mention gets help: {bare}"
    );

    let unknown = ask_admins(&world, &one, "@sharebot frobnicate").await;
    assert_eq!(
        unknown,
        "I don't know \"frobnicate\". Try `@sharebot help`."
    );
    let typo = ask_admins(&world, &one, "@sharebot conections").await;
    assert!(typo.ends_with("Closest: `connections`."), "{typo}");
    says(
        &world,
        &one,
        "@sharebot share",
        &["Usage: `@sharebot share ~channel with <connection> [--note \"…\"]`"],
    )
    .await;
    says(
        &world,
        &one,
        "@sharebot share ~nope with org-a",
        &["I can't find the channel", "Usage:"],
    )
    .await;
    says(
        &world,
        &one,
        "@sharebot share ~admins with nobody",
        &["There is no connection named \"nobody\""],
    )
    .await;
    says(
        &world,
        &one,
        "@sharebot policy x auto-accept --team nowhere",
        &["There is no connection named \"x\""],
    )
    .await;
    says(
        &world,
        &one,
        "@sharebot connections now",
        &["takes no arguments", "Usage: `@sharebot connections`"],
    )
    .await;
    says(
        &world,
        &one,
        "@sharebot audit 500",
        &["Usage: `@sharebot audit [count] [--connection <name>]"],
    )
    .await;

    // In a thread the answer stays in that thread.
    let channel = world.admin_channel();
    let root = one.post(&channel, "a discussion", "").await;
    let asked = one.post(&channel, "@sharebot connections", &root.id).await;
    let bot_id = bot_id(&world);
    let answer = wait("the threaded answer", || async {
        one.replies(&channel, &root.id, &bot_id)
            .await
            .into_iter()
            .next()
    })
    .await;
    assert!(full_text(&answer).contains("There are no connections yet"));
    assert_ne!(asked.id, answer.id);

    // A DM needs no mention; a plain user may ask for help but not for connections.
    let dm = one.dm_with(&bot_id).await;
    let listed = full_text(&ask_post(&world, &one, &dm, "connections").await);
    assert!(listed.contains("`connect <name>`"), "{listed}");
    // In a DM nothing tells the asker to type the mention.
    let unknown = full_text(&ask_post(&world, &one, &dm, "frobnicate").await);
    assert_eq!(unknown, "I don't know \"frobnicate\". Try `help`.");
    let typo = full_text(&ask_post(&world, &one, &dm, "conections").await);
    assert!(!typo.contains("@sharebot"), "{typo}");
    let usage = full_text(&ask_post(&world, &one, &dm, "share").await);
    assert!(
        usage.contains("Usage: `share ~channel with <connection> [--note \"…\"]`"),
        "{usage}"
    );
    let user = world.user("user-1", "SampleUs@r-1").await;
    let user_dm = user.dm_with(&bot_id).await;
    let refused = full_text(&ask_post(&world, &user, &user_dm, "connections").await);
    assert_eq!(
        refused,
        "Sorry, only system admins can use `connections`. `help` lists what everyone can use."
    );
    let help = full_text(&ask_post(&world, &user, &user_dm, "help").await);
    assert!(help.contains("| Command |"), "{help}");
    // Admin commands are not taken in other channels, where others could read the answer.
    let town = world.b.channel_id("engineering", "town-square").unwrap();
    let elsewhere = full_text(&ask_post(&world, &one, &town, "@sharebot connections").await);
    assert!(elsewhere.contains("only in ~admins"), "{elsewhere}");

    // Exactly one answer per command; the bot does not answer itself.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(one.replies(&channel, &root.id, &bot_id).await.len(), 1);
    bot.shutdown().await.unwrap();
}

#[tokio::test]
async fn connect_sends_the_invitation_by_dm_only_and_shares_once_the_other_side_accepts() {
    let (logs, _guard) = Logs::capture();
    let world = World::bare().await;
    let one = world.admin("sysadmin").await;
    let engineering = world.b.team_id("engineering").unwrap();
    let plan = one
        .client
        .create_channel(&NewChannel {
            team_id: engineering,
            name: "launch-plan".into(),
            display_name: "Launch plan".into(),
            channel_type: "O".into(),
            ..NewChannel::default()
        })
        .await
        .unwrap();
    let bot = world.start_bot().await;
    let bot_id = bot_id(&world);
    let mut ws = socket(world.b.site_url(), &one.token).await;

    says(
        &world,
        &one,
        "@sharebot connect org-a \"Org A\" --auto-accept --team marketing --share ~launch-plan",
        &[
            "Created the connection **Org A** (`org-a`)",
            "go straight to **Marketing**",
            "Once they accept, I share ~launch-plan",
        ],
    )
    .await;
    let dm = wait("the invitation DM", || async {
        one.dm_posts(&bot_id)
            .await
            .into_iter()
            .map(|p| p.message)
            .find(|m| m.contains("Invite code"))
    })
    .await;
    let code = invitation(&dm);
    let password = password_over_websocket(&mut ws).await;
    assert!(code.len() > 40 && password.len() >= 20, "{dm}");
    assert!(dm.contains("message only you can see"), "{dm}");

    let table = ask_admins(&world, &one, "@sharebot connections").await;
    assert!(
        table.contains(
            "| Org A (`org-a`) | 🟡 Connection pending | — | auto → Marketing | 0 | 1 waiting | 0 |"
        ),
        "{table}"
    );

    // A wrong command cannot reveal it again: reinvite makes a fresh one, by DM too.
    says(
        &world,
        &one,
        "@sharebot reinvite org-a",
        &["fresh invite code"],
    )
    .await;
    let dms = wait("the second invitation", || async {
        let all: Vec<String> = one
            .dm_posts(&bot_id)
            .await
            .into_iter()
            .map(|p| p.message)
            .filter(|m| m.contains("Invite code"))
            .collect();
        (all.len() == 2).then_some(all)
    })
    .await;
    let code2 = invitation(&dms[1]);
    let password2 = password_over_websocket(&mut ws).await;
    assert_ne!(password, password2);

    // Org A's admin accepts in the console; the waiting share is then sent.
    world
        .a_admin
        .accept_invite(&sharebot::mattermost::models::AcceptInvite {
            invite: code2.clone(),
            name: "org-b".into(),
            display_name: "Org B".into(),
            default_team_id: world.a.team_id("engineering").unwrap(),
            password: password2.clone(),
        })
        .await
        .unwrap();
    wait("the channel to arrive at Org A", || async {
        world.a_admin.get_channel(&plan.id).await.ok()
    })
    .await;
    let table = wait("the connection to show as connected", || async {
        let t = ask_admins(&world, &one, "@sharebot connections").await;
        t.contains("🟢 Connected").then_some(t)
    })
    .await;
    assert!(
        table.contains("| auto → Marketing | 0 | 1 | 0 |"),
        "{table}"
    );
    let store = world.store().await;
    let remotes = world
        .b_bot()
        .list_remote_clusters(&RemoteClusterFilter::default())
        .await
        .unwrap();
    let rc = remotes.iter().find(|r| r.name == "org-a").unwrap();
    let policy = store.policy(&rc.remote_id).await.unwrap().unwrap();
    assert_eq!(policy.policy, Policy::AutoAccept);
    assert_eq!(rc.default_team_id, world.b.team_id("marketing").unwrap());
    assert!(store.waiting_shares(None).await.unwrap().is_empty());

    // The secrets went to the asking admin's DM and nowhere else.
    bot.shutdown().await.unwrap();
    let admins = channel_text(&one, &world.admin_channel()).await;
    for secret in [&code, &password, &code2, &password2] {
        assert!(
            !admins.contains(secret.as_str()),
            "a secret in the admin channel"
        );
        assert!(
            !logs.text().contains(secret.as_str()),
            "a secret in the logs"
        );
        assert!(
            !database_text(&world).contains(secret.as_str()),
            "a secret in the database"
        );
    }
    // The passwords are in no post the server keeps (the DMs included), and no push.
    for secret in [&password, &password2] {
        assert_eq!(
            world.b.count_posts(|p| p.message.contains(secret.as_str())),
            0,
            "a password in a stored post"
        );
    }
    let audit: Vec<String> = store
        .audit_recent(10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert!(
        audit.contains(&"connection.created".to_string()),
        "{audit:?}"
    );
    assert!(audit.contains(&"channel.shared".to_string()), "{audit:?}");
}

#[tokio::test]
async fn accept_invite_opens_a_dialog_whose_errors_name_the_field_and_echo_nothing() {
    let (logs, _guard) = Logs::capture();
    let world = World::bare().await;
    let made = world
        .a_admin
        .create_remote_cluster(&NewRemoteCluster {
            name: "org-b".into(),
            display_name: "Org B".into(),
            default_team_id: world.a.team_id("engineering").unwrap(),
            password: "correct-horse-battery-staple-42".into(),
        })
        .await
        .unwrap();
    let bot = world.start_bot().await;
    let one = world.admin("sysadmin").await;
    let channel = world.admin_channel();
    let offer = ask_post(&world, &one, &channel, "@sharebot accept-invite").await;
    assert!(full_text(&offer).contains("Enter invitation"), "{offer:?}");
    let button = &offer.props.attachments[0].actions[0].id;

    // Only the admin who asked opens it.
    let two = world.admin("sysadmin2").await;
    let (status, _) = two.click(&offer.id, button, None).await;
    assert_eq!(status, 200);

    let mut ws = socket(world.b.site_url(), &one.token).await;
    let (status, answer) = one.click(&offer.id, button, None).await;
    assert_eq!(status, 200, "{answer}");
    let event = next_named(&mut ws, "open_dialog").await;
    let opened: Value = serde_json::from_str(event["data"]["dialog"].as_str().unwrap()).unwrap();
    let dialog = &opened["dialog"];
    let names: Vec<&str> = dialog["elements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "name",
            "display_name",
            "invite",
            "password",
            "policy",
            "team"
        ]
    );
    let password_field = &dialog["elements"][3];
    assert_eq!(password_field["subtype"], "password");
    let submit = |submission: Value| {
        let body = json!({"url": opened["url"], "callback_id": dialog["callback_id"], "state": dialog["state"],
                          "channel_id": channel, "team_id": world.b.team_id("engineering").unwrap(),
                          "submission": submission, "cancelled": false});
        let one = &one;
        async move { one.submit_dialog(&body).await }
    };
    let wrong = "not-the-password-000";
    let (status, body) = submit(
        json!({"name": "org-a", "display_name": "Org A", "invite": made.invite,
                                        "password": wrong, "policy": "review"}),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        body["errors"]["password"]
            .as_str()
            .unwrap()
            .contains("does not open"),
        "{body}"
    );
    let (_, body) = submit(
        json!({"name": "org-a", "invite": "bm90IGEgY29kZQ", "password": wrong,
                                  "policy": "review"}),
    )
    .await;
    assert!(
        body["errors"]
            .as_object()
            .is_some_and(|e| e.contains_key("invite") || e.contains_key("password")),
        "{body}"
    );
    let (_, body) =
        submit(json!({"name": "Org A!", "invite": made.invite, "password": wrong})).await;
    assert!(body["errors"]["name"].is_string(), "{body}");
    let (_, body) = submit(
        json!({"name": "org-a", "invite": made.invite, "password": "x",
                                  "policy": "auto-accept"}),
    )
    .await;
    assert!(body["errors"]["team"].is_string(), "{body}");
    let text = body.to_string();
    assert!(!text.contains(wrong) && !text.contains(&made.invite));

    let (status, body) = submit(json!({"name": "org-a", "display_name": "Org A", "invite": made.invite,
                                        "password": "correct-horse-battery-staple-42", "policy": "review"})).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.get("errors").is_none() && body.get("error").is_none(),
        "{body}"
    );
    let bot_id = bot_id(&world);
    let done = wait("the confirmation in the thread", || async {
        one.replies(&channel, &offer.root_id, &bot_id)
            .await
            .into_iter()
            .map(|p| full_text(&p))
            .find(|t| t.contains("Connected to"))
    })
    .await;
    assert!(
        done.contains("Connected to **Org A** (`org-a`), accepted by @sysadmin"),
        "{done}"
    );
    assert!(
        done.contains("wait for review in **Shared Inbox**"),
        "{done}"
    );
    let rc = world
        .b_bot()
        .list_remote_clusters(&RemoteClusterFilter::default())
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.name == "org-a")
        .expect("the connection exists");
    assert_eq!(
        rc.creator_id, bot_id,
        "the bot made it, so it sees arriving channels at once"
    );
    assert_eq!(rc.default_team_id, world.b.team_id("shared-inbox").unwrap());

    bot.shutdown().await.unwrap();
    let posts = channel_text(&one, &channel).await;
    for secret in [
        "correct-horse-battery-staple-42",
        made.invite.as_str(),
        wrong,
    ] {
        assert!(!posts.contains(secret), "a secret in the admin channel");
        assert!(!logs.text().contains(secret), "a secret in the logs");
        assert!(
            !database_text(&world).contains(secret),
            "a secret in the database"
        );
    }
}

#[tokio::test]
async fn policy_reinvite_disconnect_and_audit_on_a_console_connection() {
    let world = World::new(MadeBy::Console, "shared-inbox", &[]).await;
    let bot = world.start_bot().await;
    let one = world.admin("sysadmin").await;
    let marketing = world.b.team_id("marketing").unwrap();

    says(
        &world,
        &one,
        "@sharebot connections",
        &["| Org A (`org-a`) |", "review → Shared Inbox"],
    )
    .await;

    says(
        &world,
        &one,
        "@sharebot policy org-a auto-accept --team Marketing",
        &["go straight to **Marketing**"],
    )
    .await;
    let rc = world
        .b_bot()
        .get_remote_cluster(&world.remote_id)
        .await
        .unwrap();
    assert_eq!(rc.default_team_id, marketing);
    says(
        &world,
        &one,
        "@sharebot policy org-a auto-accept --team nowhere",
        &["There is no team \"nowhere\"", "Usage: `@sharebot policy"],
    )
    .await;
    says(
        &world,
        &one,
        "@sharebot policy org-a auto-accept --team shared-inbox",
        &["is the review inbox"],
    )
    .await;

    says(
        &world,
        &one,
        "@sharebot reinvite org-a",
        &["has already accepted"],
    )
    .await;

    // Disconnect asks first; Keep changes nothing.
    let channel = world.admin_channel();
    let offer_post = ask_post(&world, &one, &channel, "@sharebot disconnect org-a").await;
    let text = full_text(&offer_post);
    assert!(text.contains("Disconnect **Org A** (`org-a`)?"), "{text}");
    assert!(
        text.contains("0 channels we share with them and 0 channels from them stop syncing"),
        "{text}"
    );
    let (status, _) = one.click(&offer_post.id, "keep", None).await;
    assert_eq!(status, 200);
    wait("the kept outcome", || async {
        let post = one.client.get_post(&offer_post.id).await.ok()?;
        full_text(&post).contains("Kept **Org A**").then_some(())
    })
    .await;
    assert!(
        world
            .b_bot()
            .get_remote_cluster(&world.remote_id)
            .await
            .unwrap()
            .delete_at
            == 0
    );

    let offer_post = ask_post(&world, &one, &channel, "@sharebot disconnect org-a").await;
    let (status, _) = one.click(&offer_post.id, "disconnect", None).await;
    assert_eq!(status, 200);
    wait("the disconnected outcome", || async {
        let post = one.client.get_post(&offer_post.id).await.ok()?;
        full_text(&post)
            .contains("was disconnected by @sysadmin")
            .then_some(())
    })
    .await;
    let gone = world.b_bot().get_remote_cluster(&world.remote_id).await;
    assert!(gone.map(|rc| rc.delete_at > 0).unwrap_or(true));
    // The same click again changes nothing more.
    let (status, _) = one.click(&offer_post.id, "disconnect", None).await;
    assert_ne!(status, 500);

    says(
        &world,
        &one,
        "@sharebot audit 5",
        &[
            "| @sysadmin | connection.deleted | Org A |",
            "connection.policy",
        ],
    )
    .await;
    says(
        &world,
        &one,
        "@sharebot connections",
        &["There are no connections yet"],
    )
    .await;
    bot.shutdown().await.unwrap();
}

#[tokio::test]
async fn share_unshare_shared_info_and_whois() {
    let world = World::new(MadeBy::Console, "shared-inbox", &[]).await;
    let theirs = world.share("roadmap", "Roadmap").await;
    let bot = world.start_bot().await;
    let one = world.admin("sysadmin").await;
    let ours = one
        .client
        .create_channel(&NewChannel {
            team_id: world.b.team_id("engineering").unwrap(),
            name: "ours".into(),
            display_name: "Ours".into(),
            channel_type: "O".into(),
            ..NewChannel::default()
        })
        .await
        .unwrap();
    let store = world.store().await;
    wait("the request for their channel", || async {
        store
            .pending_request_for_channel(&theirs)
            .await
            .ok()
            .flatten()
    })
    .await;

    let shared = ask_admins(&world, &one, "@sharebot share ~ours with org-a").await;
    assert_eq!(shared, "~ours is now shared with **Org A**.");
    wait("our channel to arrive at Org A", || async {
        world.a_admin.get_channel(&ours.id).await.ok()
    })
    .await;
    says(
        &world,
        &one,
        "@sharebot share ~ours with org-a",
        &["already shared"],
    )
    .await;

    says(
        &world,
        &one,
        "@sharebot shared org-a",
        &[
            "We share with them: ~ours (Engineering)",
            "They share with us: **Roadmap** (waiting for review)",
        ],
    )
    .await;

    says(
        &world,
        &one,
        "@sharebot info ~ours",
        &["~ours (Engineering) is ours, shared with **Org A**."],
    )
    .await;
    // A display name with spaces, typed in quotes.
    one.client
        .create_channel(&NewChannel {
            team_id: world.b.team_id("engineering").unwrap(),
            name: "q3-roadmap".into(),
            display_name: "Q3 Roadmap".into(),
            channel_type: "O".into(),
            ..NewChannel::default()
        })
        .await
        .unwrap();
    says(
        &world,
        &one,
        "@sharebot info \"Q3 Roadmap\"",
        &["~q3-roadmap (Engineering) is not shared."],
    )
    .await;
    let link = format!(
        "@sharebot info {}/engineering/channels/ours",
        world.b.site_url()
    );
    says(&world, &one, &link, &["is ours, shared with **Org A**"]).await;
    // A plain user learns nothing about a private channel they are not in.
    let user = world.user("user-1", "SampleUs@r-1").await;
    let user_dm = user.dm_with(&bot_id(&world)).await;
    let hidden = full_text(&ask_post(&world, &user, &user_dm, "info ~admins").await);
    assert!(hidden.contains("I can't find that channel"), "{hidden}");
    says(
        &world,
        &one,
        "@sharebot info \"Roadmap\"",
        &["comes from **Org A** (`org-a`): waiting for review"],
    )
    .await;

    // Whois: a user synced from Org A, and one of ours.
    let a_author = world.a.user_id("sysadmin").unwrap();
    let a_channel = theirs.clone();
    world
        .a_admin
        .create_post(&Post {
            channel_id: a_channel,
            message: "hello from A".into(),
            ..Post::default()
        })
        .await
        .unwrap();
    let remote_user = wait("Org A's author synced to Org B", || async {
        world.b_bot().get_user(&a_author).await.ok()
    })
    .await;
    let who = ask_admins(
        &world,
        &one,
        &format!("@sharebot whois @{}", remote_user.username),
    )
    .await;
    assert!(who.contains("from **Org A** (connection `org-a`)"), "{who}");
    says(
        &world,
        &one,
        "@sharebot whois @user-1",
        &["is a user of this server"],
    )
    .await;
    says(
        &world,
        &one,
        "@sharebot whois @nobody",
        &["There is no user @nobody."],
    )
    .await;

    says(
        &world,
        &one,
        "@sharebot unshare ~ours from org-a",
        &["no longer shared with **Org A**"],
    )
    .await;
    says(
        &world,
        &one,
        "@sharebot unshare ~ours from org-a",
        &["is not shared with **Org A**"],
    )
    .await;
    let actions: Vec<String> = store
        .audit_recent(20)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert!(
        actions.contains(&"channel.shared".into()) && actions.contains(&"channel.unshared".into())
    );
    bot.shutdown().await.unwrap();
}

#[tokio::test]
async fn pending_shows_each_request_with_working_buttons_and_move_relocates() {
    let world = World::new(MadeBy::Console, "shared-inbox", &[]).await;
    let channel = world.share("plan", "Plan").await;
    let bot = world.start_bot().await;
    let (one, _, two, _) = both_dms(&world, "Plan").await;
    let admins = world.admin_channel();
    let asked = one.post(&admins, "@sharebot pending", "").await;
    let bot_id = bot_id(&world);
    let replies = wait("the header and one card", || async {
        let r = one.replies(&admins, &asked.id, &bot_id).await;
        (r.len() >= 2).then_some(r)
    })
    .await;
    assert!(full_text(&replies[0]).contains("1 channel waiting for review"));
    let card = &replies[1];
    assert!(attachment_text(card).contains("Plan"));
    assert!(action_ids(card).contains(&"accept".to_string()));
    // Any admin may use the card; the DMs follow.
    let marketing = world.b.team_id("marketing").unwrap();
    two.click(&card.id, "team", Some(&marketing)).await;
    let (status, _) = two.click(&card.id, "accept", None).await;
    assert_eq!(status, 200);
    dm_showing(
        &world,
        &one,
        "Plan",
        "accepted into **Marketing** by @sysadmin2",
    )
    .await;
    wait("the card to show the outcome", || async {
        let post = one.client.get_post(&card.id).await.ok()?;
        attachment_text(&post)
            .contains("accepted into **Marketing**")
            .then_some(())
    })
    .await;
    let none = ask_admins(&world, &one, "@sharebot pending").await;
    assert_eq!(none, "Nothing is waiting for review.");

    says(
        &world,
        &one,
        "@sharebot move ~plan to marketing",
        &["already in **Marketing**"],
    )
    .await;
    says(
        &world,
        &one,
        "@sharebot move ~plan to engineering",
        &["Moving ~plan to **Engineering**"],
    )
    .await;
    wait("the channel in Engineering", || async {
        let c = world.b_bot().get_channel(&channel).await.ok()?;
        (c.team_id == world.b.team_id("engineering").unwrap()).then_some(())
    })
    .await;
    dm_showing(&world, &two, "Plan", "Engineering").await;
    says(
        &world,
        &one,
        "@sharebot move ~admins to marketing",
        &["did not come from another organization"],
    )
    .await;
    let store = world.store().await;
    assert_eq!(
        store.requests_for_channel(&channel).await.unwrap()[0].state,
        RequestState::Accepted
    );
    bot.shutdown().await.unwrap();
}

#[tokio::test]
async fn commands_posted_while_the_bot_was_down_are_answered_once_and_an_interrupted_one_is_owned_up_to(
) {
    let world = World::bare().await;
    let bot = world.start_bot().await;
    let one = world.admin("sysadmin").await;
    let channel = world.admin_channel();
    let bot_id = bot_id(&world);
    // Handled before the restart: not answered again.
    let first = ask_post(&world, &one, &channel, "@sharebot connections").await;
    bot.kill().await;

    let while_down = one.post(&channel, "@sharebot help connect", "").await;
    let interrupted = one.post(&channel, "@sharebot connections", "").await;
    // As if the process had died while handling this one.
    let store = world.store().await;
    assert_eq!(
        store.claim_command(&interrupted.id, &one.id).await.unwrap(),
        CommandClaim::New
    );
    store.close().await;

    let bot = world.start_bot().await;
    let answered = wait("the command posted while down", || async {
        one.replies(&channel, &while_down.id, &bot_id)
            .await
            .into_iter()
            .next()
    })
    .await;
    assert!(full_text(&answered).contains("connect <name>"));
    let owned = wait("the interrupted command's note", || async {
        one.replies(&channel, &interrupted.id, &bot_id)
            .await
            .into_iter()
            .next()
    })
    .await;
    assert!(full_text(&owned).contains("I was restarted while working on this command"));
    // The process that claimed it, had it only been paused, would send its answer now, with
    // the same pending_post_id: the server hands back the note instead of a second answer.
    let late = world
        .b_bot()
        .create_post(&Post {
            channel_id: channel.clone(),
            root_id: interrupted.id.clone(),
            message: "a late answer".into(),
            pending_post_id: sharebot::commands::answer_key(&interrupted.id),
            ..Post::default()
        })
        .await
        .unwrap();
    assert_eq!(late.id, owned.id, "the late answer is the note");
    tokio::time::sleep(Duration::from_millis(500)).await;
    for root in [&first.root_id, &while_down.id, &interrupted.id] {
        assert_eq!(
            one.replies(&channel, root, &bot_id).await.len(),
            1,
            "one answer each"
        );
    }
    bot.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_command_posted_during_a_long_outage_is_found_in_the_admin_channel_and_answered_once() {
    let world = World::bare().await;
    let bot = world.start_bot().await;
    bot.kill().await;
    // The server forgets the bot's connection (restart, long outage): nothing can be resumed,
    // so no event will ever carry this post.
    world.b.hub().forget_sessions();
    let one = world.admin("sysadmin").await;
    let channel = world.admin_channel();
    let missed = one.post(&channel, "@sharebot help pending", "").await;

    let bot = world.start_bot().await;
    let bot_id = bot_id(&world);
    let answer = wait("the missed command's answer", || async {
        one.replies(&channel, &missed.id, &bot_id)
            .await
            .into_iter()
            .next()
    })
    .await;
    assert!(
        full_text(&answer).contains("waiting for review"),
        "{answer:?}"
    );
    // Start-up and the resync both read the channel: still one answer.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(one.replies(&channel, &missed.id, &bot_id).await.len(), 1);
    bot.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_dm_command_sent_while_the_socket_cannot_be_resumed_is_answered_once() {
    let world = World::bare().await;
    // Org B's server sweeps connections without a socket every 300 ms (every five minutes on a
    // real server), taking those with no activity for longer than that.
    world
        .b
        .hub()
        .set_reaper_interval(Duration::from_millis(300));
    let bot = world.start_bot().await;
    let bot_id = bot_id(&world);
    let one = world.admin("sysadmin").await;
    let dm = one.dm_with(&bot_id).await;
    // The bot's connection sits idle for longer than the window, then the network between the
    // bot and its server goes down.
    tokio::time::sleep(Duration::from_millis(900)).await;
    world.b.hub().cut_off(true);
    let missed = one.post(&dm, "help pending", "").await;
    // The next sweep removes the idle connection: no event will ever carry this post.
    support::sandbox::until("the server drops the bot's connection", || {
        world.b.hub().connections() == 0
    })
    .await;
    world.b.hub().cut_off(false);

    let answer = wait("the DM command's answer", || async {
        one.replies(&dm, &missed.id, &bot_id)
            .await
            .into_iter()
            .next()
    })
    .await;
    assert!(
        full_text(&answer).contains("waiting for review"),
        "{answer:?}"
    );
    // Another reconnect that cannot resume reads the DM again: still one answer.
    let resyncs = || {
        bot.metrics
            .counter_total("sharebot_websocket_resyncs_total", &[])
    };
    let before = resyncs();
    world.b.hub().forget_sessions();
    support::sandbox::until("a second resync", || resyncs() > before).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(one.replies(&dm, &missed.id, &bot_id).await.len(), 1);
    bot.shutdown().await.unwrap();
}

#[tokio::test]
async fn another_bots_mention_is_not_a_command() {
    let mut seed = sharebot::sandbox::Seed::default();
    seed.users.push(sharebot::sandbox::seed::SeedUser {
        username: "helperbot".into(),
        password: None,
        email: None,
        roles: Some("system_user system_admin".into()),
        teams: vec!["engineering".into()],
        bot: true,
        display_name: Some("Helper".into()),
        description: None,
        deactivated: false,
        token: Some("helperbottoken00000000000a".into()),
    });
    if let Some(admins) = seed.channels.iter_mut().find(|c| c.name == "admins") {
        admins.members.push("helperbot".into());
    }
    let world = World::bare_with(seed).await;
    let bot = world.start_bot().await;
    let channel = world.admin_channel();
    let helper = sharebot::mattermost::Client::new(
        world.b.site_url(),
        "helperbottoken00000000000a",
        sharebot::mattermost::ClientOptions::default(),
    )
    .unwrap();
    let from_bot = helper
        .create_post(&Post {
            channel_id: channel.clone(),
            message: "@sharebot connections".into(),
            ..Post::default()
        })
        .await
        .unwrap();
    // A person's command after it is answered: by then the bot's post was seen and skipped.
    let one = world.admin("sysadmin").await;
    ask_post(&world, &one, &channel, "@sharebot help share").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let bot_id = bot_id(&world);
    assert!(
        one.replies(&channel, &from_bot.id, &bot_id)
            .await
            .is_empty(),
        "no answer to another bot"
    );
    bot.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_channel_name_resolves_in_the_team_it_is_typed_in_first_and_team_slash_channel_picks_one()
{
    let world = World::bare().await;
    let bot = world.start_bot().await;
    let one = world.admin("sysadmin").await;
    // Every team has an ~off-topic; the admin channel is in Engineering.
    says(
        &world,
        &one,
        "@sharebot info ~off-topic",
        &["~off-topic (Engineering) is not shared."],
    )
    .await;
    says(
        &world,
        &one,
        "@sharebot info marketing/off-topic",
        &["~off-topic (Marketing) is not shared."],
    )
    .await;
    says(
        &world,
        &one,
        "@sharebot info ~Marketing/Off-Topic",
        &["~off-topic (Marketing) is not shared."],
    )
    .await;
    // Typed in a channel of Marketing, the name means Marketing's channel.
    let town = world.b.channel_id("marketing", "town-square").unwrap();
    let there = full_text(&ask_post(&world, &one, &town, "@sharebot info ~off-topic").await);
    assert!(
        there.contains("~off-topic (Marketing) is not shared."),
        "{there}"
    );
    // A name of a channel only another team has is still found.
    one.client
        .create_channel(&NewChannel {
            team_id: world.b.team_id("marketing").unwrap(),
            name: "campaigns".into(),
            display_name: "Campaigns".into(),
            channel_type: "O".into(),
            ..NewChannel::default()
        })
        .await
        .unwrap();
    says(
        &world,
        &one,
        "@sharebot info ~campaigns",
        &["~campaigns (Marketing) is not shared."],
    )
    .await;
    // A DM is in no team: the name is ambiguous, and the answer shows how to pick one.
    let dm = one.dm_with(&bot_id(&world)).await;
    let ambiguous = full_text(&ask_post(&world, &one, &dm, "info ~off-topic").await);
    assert!(
        ambiguous.contains("`engineering/off-topic`")
            && ambiguous.contains("`marketing/off-topic`"),
        "{ambiguous}"
    );
    says(
        &world,
        &one,
        "@sharebot info nowhere/off-topic",
        &["I can't find the channel `nowhere/off-topic`"],
    )
    .await;
    bot.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_declined_channel_says_who_declined_it_and_when_to_those_who_may_see_it() {
    let world = World::new(MadeBy::Console, "shared-inbox", &[]).await;
    let hiring = world.share("hiring", "Hiring").await;
    let bot = world.start_bot().await;
    let (one, dm, _, _) = both_dms(&world, "Hiring").await;
    let (status, _) = one.click(&dm.id, "reject", None).await;
    assert_eq!(status, 200);
    dm_showing(&world, &one, "Hiring", "rejected by @sysadmin").await;
    wait("the channel archived", || async {
        channel_on_b(&world, &hiring)
            .await
            .is_archived()
            .then_some(())
    })
    .await;

    let info = ask_admins(&world, &one, "@sharebot info ~hiring").await;
    assert!(
        info.contains("**Hiring** from **Org A** was declined by @sysadmin at 20")
            && info.contains(" UTC"),
        "{info}"
    );
    // Named with its team, the answer is the same; in another team there is no such channel.
    let named = ask_admins(&world, &one, "@sharebot info shared-inbox/hiring").await;
    assert!(named.contains("was declined by @sysadmin at 20"), "{named}");
    let elsewhere = ask_admins(&world, &one, "@sharebot info engineering/hiring").await;
    assert!(elsewhere.contains("I can't find"), "{elsewhere}");
    let shared = ask_admins(&world, &one, "@sharebot shared org-a").await;
    assert!(
        shared.contains("They share with us: **Hiring** (declined by @sysadmin at 20"),
        "{shared}"
    );
    // Someone who may not see the channel learns nothing about it.
    let user = world.user("user-1", "SampleUs@r-1").await;
    let user_dm = user.dm_with(&bot_id(&world)).await;
    let hidden = full_text(&ask_post(&world, &user, &user_dm, "info ~hiring").await);
    assert!(hidden.contains("I can't find"), "{hidden}");
    assert!(!hidden.contains("declined"), "{hidden}");
    bot.shutdown().await.unwrap();
}
