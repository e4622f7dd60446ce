//! Whom the commands trust and what they tell: posts an integration makes in a person's name
//! are not commands, `info` and `whois` reveal nothing the asker could not see, people of
//! another organization get no answer, and `share`/`unshare` say what is true of a channel we
//! received. Two sandbox organizations and the real bot, driven as people and integrations
//! would drive a real server.

mod support;

use reqwest::Method;
use serde_json::{json, Value};
use sharebot::mattermost::models::{NewChannel, Post, SharedChannelRemoteFilter};
use support::asking::*;
use support::world::*;

/// Waits until Org B's bot has the request for a channel Org A shared.
async fn wait_for_request(world: &World, channel: &str) {
    let store = world.store().await;
    wait("the request for their channel", || async {
        store
            .pending_request_for_channel(channel)
            .await
            .ok()
            .flatten()
    })
    .await;
}

/// A private channel of Org B's engineering team, made by `who`.
async fn private_channel(world: &World, who: &Admin, name: &str) -> String {
    who.client
        .create_channel(&NewChannel {
            team_id: world.b.team_id("engineering").unwrap(),
            name: name.into(),
            display_name: name.into(),
            channel_type: "P".into(),
            ..NewChannel::default()
        })
        .await
        .unwrap()
        .id
}

/// An incoming webhook on Org B owned by `who`, posting to `channel` unless told otherwise.
async fn incoming_webhook(world: &World, who: &Admin, channel: &str) -> String {
    let (status, hook) = support::harness::call(
        world.b.site_url(),
        Method::POST,
        "/api/v4/hooks/incoming",
        Some(&who.token),
        Some(
            json!({"channel_id": channel, "display_name": "CI", "description": "builds",
                    "channel_locked": false}),
        ),
    )
    .await;
    assert_eq!(status, 201, "{hook}");
    assert_eq!(hook["user_id"], who.id.as_str());
    assert_eq!(hook["channel_locked"], false);
    hook["id"].as_str().unwrap().to_string()
}

/// Posts `payload` through the webhook as any outside caller can (no session).
async fn through_webhook(world: &World, hook: &str, payload: Value) {
    let answer = reqwest::Client::new()
        .post(format!("{}/hooks/{hook}", world.b.site_url()))
        .json(&payload)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.text().await.unwrap(), "ok");
}

/// The newest post the webhook made with this text, as stored on Org B.
fn webhook_post(world: &World, text: &str) -> sharebot::sandbox::model::Post {
    world
        .b
        .find_post(|p| p.message == text && p.props.get("from_webhook") == Some(&json!("true")))
        .expect("the webhook's post")
}

/// Nothing about `channel` was shared: not with Org A, not waiting, not audited.
async fn nothing_shared(world: &World, channel: &str) {
    assert!(
        world.a_admin.get_channel(channel).await.is_err(),
        "the private channel reached Org A"
    );
    let store = world.store().await;
    assert!(store.waiting_shares(None).await.unwrap().is_empty());
    let audited: Vec<String> = store
        .audit_recent(50)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert!(
        !audited.contains(&"channel.shared".to_string()),
        "{audited:?}"
    );
}

#[tokio::test]
async fn a_webhook_post_in_an_admins_name_is_not_a_command() {
    let world = World::new(MadeBy::Console, "shared-inbox", &[]).await;
    let bot = world.start_bot().await;
    let bot_id = bot_id(&world);
    let one = world.admin("sysadmin").await;
    let hr = private_channel(&world, &one, "hr-private").await;
    let town = world.b.channel_id("engineering", "town-square").unwrap();
    let hook = incoming_webhook(&world, &one, &town).await;

    // Into the owner's DM with the bot (the `@username` override), and into the admin channel.
    let share = "share ~hr-private with org-a";
    through_webhook(
        &world,
        &hook,
        json!({"channel": "@sharebot", "text": share}),
    )
    .await;
    let dm_post = webhook_post(&world, share);
    let dm = one.dm_with(&bot_id).await;
    assert_eq!(
        dm_post.channel_id, dm,
        "the post lands in the owner's DM with the bot"
    );
    assert_eq!(dm_post.user_id, one.id, "and is attributed to the owner");
    let mention = "@sharebot share ~hr-private with org-a";
    through_webhook(&world, &hook, json!({"channel": "admins", "text": mention})).await;
    let channel_post = webhook_post(&world, mention);
    assert_eq!(channel_post.channel_id, world.admin_channel());

    // A person's commands after them are answered; by then both posts were seen (in order).
    assert!(ask(&world, &one, &dm, "help share").await.contains("share"));
    let admins = world.admin_channel();
    assert!(ask(&world, &one, &admins, "@sharebot help share")
        .await
        .contains("share"));
    for post in [&dm_post, &channel_post] {
        assert!(
            one.replies(&post.channel_id, &post.id, &bot_id)
                .await
                .is_empty(),
            "no answer to a webhook's post"
        );
    }
    nothing_shared(&world, &hr).await;
    bot.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_webhook_post_found_by_the_catch_up_is_not_a_command() {
    let world = World::new(MadeBy::Console, "shared-inbox", &[]).await;
    let bot = world.start_bot().await;
    let one = world.admin("sysadmin").await;
    let hr = private_channel(&world, &one, "hr-private").await;
    let town = world.b.channel_id("engineering", "town-square").unwrap();
    let hook = incoming_webhook(&world, &one, &town).await;
    bot.kill().await;
    // Nothing can be resumed: the restarted bot reads the admin channel instead.
    world.b.hub().forget_sessions();
    let mention = "@sharebot share ~hr-private with org-a";
    through_webhook(&world, &hook, json!({"channel": "admins", "text": mention})).await;
    let hooked = webhook_post(&world, mention);
    let channel = world.admin_channel();
    let person = one.post(&channel, "@sharebot help share", "").await;

    let bot = world.start_bot().await;
    let bot_id = bot_id(&world);
    // The catch-up handles the missed posts oldest first, one after the other.
    wait("the person's missed command answered", || async {
        one.replies(&channel, &person.id, &bot_id)
            .await
            .into_iter()
            .next()
    })
    .await;
    assert!(one.replies(&channel, &hooked.id, &bot_id).await.is_empty());
    nothing_shared(&world, &hr).await;
    bot.shutdown().await.unwrap();
}

#[tokio::test]
async fn info_gives_one_answer_to_whoever_may_not_see_a_channel() {
    let world = World::new(MadeBy::Console, "shared-inbox", &[]).await;
    // Waiting in the review inbox, which a plain user is not in.
    let theirs = world.share("roadmap", "Roadmap").await;
    let bot = world.start_bot().await;
    wait_for_request(&world, &theirs).await;
    let one = world.admin("sysadmin").await;
    private_channel(&world, &one, "hr-private").await;
    for team in ["engineering", "marketing"] {
        one.client
            .create_channel(&NewChannel {
                team_id: world.b.team_id(team).unwrap(),
                name: "plans".into(),
                display_name: "Plans".into(),
                channel_type: "O".into(),
                ..NewChannel::default()
            })
            .await
            .unwrap();
    }
    let bot_id = bot_id(&world);
    // A direct channel can be named by its name: the server's by-name lookup matches
    // channels without a team under any team.
    let admins_dm = one
        .client
        .create_direct_channel(&one.id, &bot_id)
        .await
        .unwrap();
    let found = world
        .b_bot()
        .channel_by_name("engineering", &admins_dm.name)
        .await
        .unwrap();
    assert_eq!(found.id, admins_dm.id);

    let user = world.user("user-1", "SampleUs@r-1").await;
    // In both teams, so `~plans` names two channels they can see.
    one.client
        .add_team_member(&world.b.team_id("marketing").unwrap(), &user.id)
        .await
        .unwrap();
    let dm = user.dm_with(&bot_id).await;
    // A public channel of a team they are in: described.
    one.client
        .create_channel(&NewChannel {
            team_id: world.b.team_id("engineering").unwrap(),
            name: "launch".into(),
            display_name: "Launch".into(),
            channel_type: "O".into(),
            ..NewChannel::default()
        })
        .await
        .unwrap();
    let visible = ask(&world, &user, &dm, "info ~launch").await;
    assert!(
        visible.contains("~launch (Engineering) is not shared."),
        "{visible}"
    );
    let missing = ask(&world, &user, &dm, "info ~no-such-channel").await;
    for hidden in [
        "info ~hr-private".to_string(),
        "info ~roadmap".to_string(),
        "info ~plans".to_string(),
        format!("info ~{}", admins_dm.name),
    ] {
        let answer = ask(&world, &user, &dm, &hidden).await;
        assert_eq!(
            answer, missing,
            "{hidden:?} is told apart from a missing channel"
        );
    }
    assert!(
        !missing.contains("Org A") && !missing.contains("review"),
        "{missing}"
    );
    // An admin still learns where it came from.
    let admins = world.admin_channel();
    let told = ask(&world, &one, &admins, "@sharebot info ~roadmap").await;
    assert!(told.contains("comes from **Org A**"), "{told}");
    bot.shutdown().await.unwrap();
}

#[tokio::test]
async fn whois_shows_a_full_name_only_where_the_server_would() {
    let mut seed = sharebot::sandbox::Seed::default();
    if let Some(two) = seed.users.iter_mut().find(|u| u.username == "sysadmin2") {
        two.display_name = Some("Grace Hopper".into());
    }
    seed.config = Some(toml::toml! { [PrivacySettings] ShowFullName = false });
    let world = World::bare_with(seed).await;
    let bot = world.start_bot().await;
    let bot_id = bot_id(&world);
    let user = world.user("user-1", "SampleUs@r-1").await;
    // What the server itself shows a plain user.
    let seen = user
        .client
        .get_user(&world.b.user_id("sysadmin2").unwrap())
        .await
        .unwrap();
    assert!(seen.first_name.is_empty() && seen.last_name.is_empty());

    let dm = user.dm_with(&bot_id).await;
    let answer = ask(&world, &user, &dm, "whois @sysadmin2").await;
    assert!(answer.contains("@sysadmin2"), "{answer}");
    assert!(
        !answer.contains("Grace") && !answer.contains("Hopper"),
        "{answer}"
    );
    let one = world.admin("sysadmin").await;
    let admins = world.admin_channel();
    let answer = ask(&world, &one, &admins, "@sharebot whois @sysadmin2").await;
    assert!(answer.contains("(Grace Hopper)"), "{answer}");
    bot.shutdown().await.unwrap();
}

#[tokio::test]
async fn people_of_another_organization_get_no_answer() {
    let world = World::new(MadeBy::Console, "shared-inbox", &[]).await;
    let theirs = world.share("roadmap", "Roadmap").await;
    let bot = world.start_bot().await;
    wait_for_request(&world, &theirs).await;
    let bot_id = bot_id(&world);
    world
        .b_bot()
        .add_channel_member(&theirs, &bot_id)
        .await
        .unwrap();
    let question = "@sharebot whois @user-1";
    world
        .a_admin
        .create_post(&Post {
            channel_id: theirs.clone(),
            message: question.into(),
            ..Post::default()
        })
        .await
        .unwrap();
    let synced = wait("Org A's question synced to Org B", || async {
        world.b.find_post(|p| {
            p.message == question && p.remote_id.as_deref().is_some_and(|r| !r.is_empty())
        })
    })
    .await;
    // One of ours asks the same in the same channel after it: answered, in order.
    let one = world.admin("sysadmin").await;
    let answer = ask(&world, &one, &theirs, question).await;
    assert!(answer.contains("is a user of this server"), "{answer}");
    assert!(
        one.replies(&theirs, &synced.id, &bot_id).await.is_empty(),
        "a person of Org A got an answer"
    );
    bot.shutdown().await.unwrap();
}

#[tokio::test]
async fn share_and_unshare_of_a_received_channel_say_what_is_true() {
    let world = World::new(MadeBy::Console, "shared-inbox", &[]).await;
    let theirs = world.share("roadmap", "Roadmap").await;
    let bot = world.start_bot().await;
    wait_for_request(&world, &theirs).await;
    let one = world.admin("sysadmin").await;
    let admins = world.admin_channel();
    let store = world.store().await;

    let answer = ask(&world, &one, &admins, "@sharebot share ~roadmap with org-a").await;
    assert!(answer.contains("~roadmap came from **Org A**"), "{answer}");
    assert!(answer.contains("Nothing was changed"), "{answer}");
    let audited = |entries: Vec<sharebot::store::AuditEntry>| -> Vec<String> {
        entries.into_iter().map(|e| e.action).collect()
    };
    assert!(!audited(store.audit_recent(50).await.unwrap()).contains(&"channel.shared".into()));

    // Unshare asks first, saying it cuts off our copy; Keep changes nothing.
    let received = || async {
        world
            .b_bot()
            .shared_channel_remotes(
                &world.remote_id,
                &SharedChannelRemoteFilter {
                    exclude_home: true,
                    ..SharedChannelRemoteFilter::default()
                },
            )
            .await
            .unwrap()
            .into_iter()
            .any(|scr| scr.channel_id == theirs)
    };
    let offer = ask_post(
        &world,
        &one,
        &admins,
        "@sharebot unshare ~roadmap from org-a",
    )
    .await;
    let text = full_text(&offer);
    assert!(text.contains("cuts off **our copy**"), "{text}");
    assert!(!text.contains("their copy stops"), "{text}");
    assert_eq!(action_ids(&offer), ["unsharereceived", "keepreceived"]);
    assert!(received().await, "nothing is cut off before the click");
    let (status, _) = one.click(&offer.id, "keepreceived", None).await;
    assert_eq!(status, 200);
    wait("the kept outcome", || async {
        let post = one.client.get_post(&offer.id).await.ok()?;
        full_text(&post).contains("Kept ~roadmap").then_some(())
    })
    .await;
    assert!(received().await);

    let offer = ask_post(
        &world,
        &one,
        &admins,
        "@sharebot unshare ~roadmap from org-a",
    )
    .await;
    let (status, _) = one.click(&offer.id, "unsharereceived", None).await;
    assert_eq!(status, 200);
    wait("the unshared outcome", || async {
        let post = one.client.get_post(&offer.id).await.ok()?;
        full_text(&post)
            .contains("Our copy of ~roadmap no longer syncs with **Org A**")
            .then_some(())
    })
    .await;
    assert!(!received().await, "our copy is cut off");
    assert!(audited(store.audit_recent(50).await.unwrap()).contains(&"channel.unshared".into()));
    bot.shutdown().await.unwrap();
}

#[tokio::test]
async fn share_refuses_the_admin_channel() {
    let world = World::new(MadeBy::Console, "shared-inbox", &[]).await;
    let bot = world.start_bot().await;
    let one = world.admin("sysadmin").await;
    let admins = world.admin_channel();
    let answer = ask(&world, &one, &admins, "@sharebot share ~admins with org-a").await;
    assert!(
        answer.contains("~admins cannot be shared: it is the admin channel"),
        "{answer}"
    );
    nothing_shared(&world, &admins).await;
    let shared = world.b_bot().get_channel(&admins).await.unwrap().shared;
    assert_ne!(shared, Some(true));
    bot.shutdown().await.unwrap();
}
