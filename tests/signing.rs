//! Signed buttons and dialogs end to end: a command button counts only from the post it was
//! sent as and with every field as sealed; a change of `server.secret` with
//! `server.previous_secret` keeps open buttons working, and the start-up re-signs them.

mod support;

use serde_json::{json, Value};
use sharebot::bot::RunningBot;
use sharebot::mattermost::models::{
    MessageAttachment, Post, PostAction, PostActionIntegration, PostProps,
};
use support::asking::*;
use support::logs::Logs;
use support::world::*;

const OLD_SECRET: &str = "the-old-signing-secret-0123456789abcdef";
const NEW_SECRET: &str = "the-new-signing-secret-fedcba9876543210";

fn click_body(user: &str, post: &str, context: &Value) -> Value {
    json!({"user_id": user, "user_name": "x", "channel_id": "c", "post_id": post,
           "trigger_id": "t", "type": "button", "context": context})
}

async fn connection_alive(world: &World) -> bool {
    world
        .b_bot()
        .get_remote_cluster(&world.remote_id)
        .await
        .map(|rc| rc.delete_at == 0)
        .unwrap_or(false)
}

#[tokio::test]
async fn a_command_button_copied_onto_another_post_or_with_an_altered_field_is_refused() {
    let world = World::new(MadeBy::Console, "shared-inbox", &[]).await;
    let bot = world.start_bot().await;
    let one = world.admin("sysadmin").await;
    let asked = ask_post(
        &world,
        &one,
        &world.admin_channel(),
        "@sharebot disconnect org-a",
    )
    .await;
    let context = stored_context(&world, &asked.id, "disconnect");
    // Every field the handler reads is sealed, with the key id and the issue time.
    for field in [
        "cmd", "subject", "user", "channel", "root", "button", "kid", "iat", "sig",
    ] {
        assert!(context[field].is_string(), "{field} missing from {context}");
    }

    // The same context with the answer's channel changed: 403, nothing happens.
    let mut altered = context.clone();
    altered["channel"] = json!(world.b.channel_id("engineering", "town-square").unwrap());
    let (status, body) = forge(&bot, click_body(&one.id, &asked.id, &altered)).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        connection_alive(&world).await,
        "an altered click disconnected"
    );

    // The context copied onto another post (here one the admin wrote with the same button):
    // the click reaches the bot through Mattermost and is refused.
    let copy = copy_of(&world, &one, &bot, "disconnect", &context).await;
    let (status, body) = one.click(&copy.id, "disconnect", None).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = forge(&bot, click_body(&one.id, &copy.id, &context)).await;
    assert_eq!(status, 200);
    assert!(
        body["ephemeral_text"]
            .as_str()
            .unwrap()
            .contains("not valid here"),
        "{body}"
    );
    assert!(
        connection_alive(&world).await,
        "a copied button disconnected"
    );

    // The real button works, once.
    let (status, _) = one.click(&asked.id, "disconnect", None).await;
    assert_eq!(status, 200);
    wait("the connection to be deleted", || async {
        (!connection_alive(&world).await).then_some(())
    })
    .await;
    let (status, body) = forge(&bot, click_body(&one.id, &asked.id, &context)).await;
    assert_eq!(status, 200);
    assert!(
        body["ephemeral_text"]
            .as_str()
            .unwrap()
            .contains("already answered"),
        "{body}"
    );
    bot.shutdown().await.unwrap();
}

/// A copy of `post`'s action `action_id`, with the same integration, posted by `who`.
async fn copy_of(
    world: &World,
    who: &Admin,
    bot: &RunningBot,
    action_id: &str,
    context: &Value,
) -> Post {
    who.client
        .create_post(&Post {
            channel_id: world.admin_channel(),
            message: "a copy".into(),
            props: PostProps {
                attachments: vec![MessageAttachment {
                    text: "A copy".into(),
                    actions: vec![PostAction {
                        id: action_id.into(),
                        action_type: "button".into(),
                        name: "Copy".into(),
                        integration: Some(PostActionIntegration {
                            url: format!("http://{}/mattermost/actions", bot.http_addr),
                            context: context.as_object().unwrap().clone(),
                        }),
                        ..PostAction::default()
                    }],
                    ..MessageAttachment::default()
                }],
                ..PostProps::default()
            },
            ..Post::default()
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn a_pending_card_copied_onto_another_post_is_refused() {
    let world = World::new(MadeBy::Console, "shared-inbox", &[]).await;
    let channel = world.share("cards", "Cards").await;
    let bot = world.start_bot().await;
    let one = world.admin("sysadmin").await;
    let botid = bot_id(&world);
    wait("the review DM", || async {
        one.review_dm(&botid, "Cards").await
    })
    .await;
    let admins = world.admin_channel();
    let asked = one.post(&admins, "@sharebot pending", "").await;
    let card = wait("the card", || async {
        one.replies(&admins, &asked.id, &botid)
            .await
            .into_iter()
            .find(|p| !p.props.attachments.is_empty())
    })
    .await;
    let context = stored_context(&world, &card.id, "reject");
    for field in ["request", "action", "recipient", "kid", "iat", "sig"] {
        assert!(context[field].is_string(), "{field} missing from {context}");
    }
    let copy = copy_of(&world, &one, &bot, "reject", &context).await;
    let (status, body) = one.click(&copy.id, "reject", None).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = forge(&bot, click_body(&one.id, &copy.id, &context)).await;
    assert_eq!(status, 200);
    assert!(
        body["ephemeral_text"]
            .as_str()
            .unwrap()
            .contains("not valid"),
        "{body}"
    );
    let store = world.store().await;
    let request = &store.requests_for_channel(&channel).await.unwrap()[0];
    assert_eq!(
        (request.state, request.deciding),
        (sharebot::store::RequestState::Pending, None),
        "a copied card decided"
    );
    bot.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_secret_change_keeps_open_buttons_working_and_re_signs_them_at_start_up() {
    let (logs, _guard) = Logs::capture();
    let mut world = World::new(
        MadeBy::Console,
        "shared-inbox",
        &[("SHAREBOT_SERVER__SECRET", OLD_SECRET)],
    )
    .await;
    world.share("rotation", "Rotation").await;
    let bot = world.start_bot().await;
    let one = world.admin("sysadmin").await;
    let botid = bot_id(&world);
    let dm = wait("the review DM", || async {
        one.review_dm(&botid, "Rotation").await
    })
    .await;
    let asked = ask_post(
        &world,
        &one,
        &world.admin_channel(),
        "@sharebot disconnect org-a",
    )
    .await;
    let old_menu = stored_context(&world, &dm.id, "team");
    let old_disconnect = stored_context(&world, &asked.id, "disconnect");
    bot.shutdown().await.unwrap();

    // A new secret, the old one as the previous: what it signed still verifies…
    world.extra = vec![
        ("SHAREBOT_SERVER__SECRET".into(), NEW_SECRET.into()),
        ("SHAREBOT_SERVER__PREVIOUS_SECRET".into(), OLD_SECRET.into()),
    ];
    let bot = world.start_bot().await;
    let engineering = world.b.team_id("engineering").unwrap();
    let mut pick = old_menu.clone();
    pick["selected_option"] = json!(engineering);
    let (status, body) = forge(&bot, click_body(&one.id, &dm.id, &pick)).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["update"].is_object(),
        "the old-key click was not taken: {body}"
    );
    // …and every open post is re-signed with the new key at start-up.
    let new_menu = wait("the review DM re-signed", || async {
        let c = stored_context(&world, &dm.id, "team");
        (c["kid"] != old_menu["kid"]).then_some(c)
    })
    .await;
    let new_disconnect = wait("the disconnect buttons re-signed", || async {
        let c = stored_context(&world, &asked.id, "disconnect");
        (c["kid"] != old_disconnect["kid"]).then_some(c)
    })
    .await;
    assert_eq!(new_menu["kid"], new_disconnect["kid"]);
    assert_ne!(new_disconnect["sig"], old_disconnect["sig"]);
    assert_eq!(new_disconnect["button"], old_disconnect["button"]);
    bot.shutdown().await.unwrap();

    // Without the previous secret, the re-signed buttons work and the old contexts do not.
    world.extra = vec![("SHAREBOT_SERVER__SECRET".into(), NEW_SECRET.into())];
    let bot = world.start_bot().await;
    let (status, _) = forge(&bot, click_body(&one.id, &asked.id, &old_disconnect)).await;
    assert_eq!(status, 403);
    let warned = logs.text();
    assert!(
        warned.contains("was `server.secret` changed?"),
        "no warning saying what to check:\n{warned}"
    );
    let (status, body) = one.click(&dm.id, "team", Some(&engineering)).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = one.click(&dm.id, "accept", None).await;
    assert_eq!(status, 200, "{body}");
    dm_showing(&world, &one, "Rotation", "accepted into **Engineering**").await;
    let (status, body) = one.click(&asked.id, "disconnect", None).await;
    assert_eq!(status, 200, "{body}");
    wait("the connection to be deleted", || async {
        (!connection_alive(&world).await).then_some(())
    })
    .await;
    bot.shutdown().await.unwrap();
    let logged = logs.text();
    for secret in [OLD_SECRET, NEW_SECRET] {
        assert!(!logged.contains(secret), "a signing secret in the logs");
    }
    for sig in [&old_disconnect["sig"], &new_disconnect["sig"]] {
        assert!(
            !logged.contains(sig.as_str().unwrap()),
            "a signature in the logs"
        );
    }
}
