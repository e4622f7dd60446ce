//! Routing rules end to end: two sandbox organizations ("Org A" shares, "Org B" runs the real
//! bot), rules written with chat commands in Org B's admin channel, channels shared by Org A
//! placed, held or declined by them, and "Always reject" from a refused request's outcome.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use sharebot::mattermost::models::{NewChannel, Post};
use sharebot::mattermost::ChannelPostsQuery;
use sharebot::store::{RequestState, Store};
use support::asking::says;
use support::sandbox::{next_named, socket};
use support::world::*;

/// Org A shares a new channel of type `kind` (`O` or `P`); returns its id.
async fn share_typed(world: &World, name: &str, display: &str, kind: &str) -> String {
    let channel = world
        .a_admin
        .create_channel(&NewChannel {
            team_id: world.a.team_id("engineering").unwrap(),
            name: name.into(),
            display_name: display.into(),
            channel_type: kind.into(),
            ..NewChannel::default()
        })
        .await
        .unwrap();
    world
        .a_admin
        .invite_remote_to_channel(&world.remote_id, &channel.id)
        .await
        .unwrap();
    channel.id
}

/// The bot's root post in the admin channel about `display`, once it shows `text`.
async fn announced(world: &World, admin: &Admin, display: &str, text: &str) -> Post {
    let bot = bot_id(world);
    let channel = world.admin_channel();
    wait(&format!("the admin channel showing {text:?}"), || async {
        let list = admin
            .client
            .channel_posts(&channel, &ChannelPostsQuery::default())
            .await
            .unwrap();
        list.ordered()
            .into_iter()
            .find(|p| {
                p.user_id == bot
                    && p.root_id.is_empty()
                    && attachment_text(p).contains(display)
                    && attachment_text(p).contains(text)
            })
            .cloned()
    })
    .await
}

/// How many root posts of the bot in the admin channel are about `display`.
async fn announcements(world: &World, admin: &Admin, display: &str) -> usize {
    let bot = bot_id(world);
    let list = admin
        .client
        .channel_posts(&world.admin_channel(), &ChannelPostsQuery::default())
        .await
        .unwrap();
    list.ordered()
        .into_iter()
        .filter(|p| {
            p.user_id == bot && p.root_id.is_empty() && attachment_text(p).contains(display)
        })
        .count()
}

/// Org A's copy of `channel` shows a post containing `text` (synced from Org B).
async fn seen_on_a(world: &World, channel: &str, text: &str) -> Post {
    wait(&format!("{text:?} on Org A"), || async {
        let list = world
            .a_admin
            .channel_posts(channel, &ChannelPostsQuery::default())
            .await
            .unwrap();
        list.ordered()
            .into_iter()
            .find(|p| p.message.contains(text))
            .cloned()
    })
    .await
}

async fn request_of(store: &Store, channel: &str) -> sharebot::store::ReviewRequest {
    store
        .requests_for_channel(channel)
        .await
        .unwrap()
        .pop()
        .expect("a request")
}

#[tokio::test]
async fn rules_route_three_channels_three_ways_and_rule_test_says_so_first() {
    let world = World::new(MadeBy::Console, "shared-inbox", &[]).await;
    let bot = world.start_bot().await;
    let one = world.admin("sysadmin").await;
    let two = world.admin("sysadmin2").await;
    says(
        &world,
        &one,
        "@sharebot rule add org-a eng-* accept --team engineering",
        &["Added rule 1", "`eng-*` → accept into **Engineering**"],
    )
    .await;
    says(
        &world,
        &one,
        "@sharebot rule add org-a plan-* review --suggest marketing",
        &["Added rule 2", "review (suggesting **Marketing**)"],
    )
    .await;
    says(
        &world,
        &one,
        "@sharebot rule add org-a social-* reject --reason \"We keep social channels in-house\"",
        &[
            "Added rule 3",
            "reject (“We keep social channels in-house”)",
        ],
    )
    .await;
    says(
        &world,
        &one,
        "@sharebot rules org-a",
        &[
            "1. `eng-*` → accept into **Engineering**",
            "2. `plan-*` → review (suggesting **Marketing**)",
            "3. `social-*` → reject",
            "Otherwise: waits for review in **Shared Inbox**",
        ],
    )
    .await;
    let connections = says(&world, &one, "@sharebot connections", &["| Rules |"]).await;
    assert!(
        connections.contains("| review → Shared Inbox | 3 |"),
        "{connections}"
    );
    // The dry run, before anything arrives.
    says(
        &world,
        &one,
        "@sharebot rule test org-a eng-infra",
        &["rule 1 of org-a: `eng-*`", "accept into **Engineering**"],
    )
    .await;
    says(
        &world,
        &one,
        "@sharebot rule test org-a plan-q3",
        &[
            "rule 2 of org-a: `plan-*`",
            "review (suggesting **Marketing**)",
        ],
    )
    .await;
    says(
        &world,
        &one,
        "@sharebot rule test org-a social-golf",
        &["rule 3 of org-a: `social-*`", "reject"],
    )
    .await;
    says(
        &world,
        &one,
        "@sharebot rule test org-a budget",
        &["No rule of **Org A** matches", "waits for review"],
    )
    .await;

    let eng = world.share("eng-infra", "Eng infra").await;
    let plan = world.share("plan-q3", "Plan Q3").await;
    let social = world.share("social-golf", "Social golf").await;

    // Accepted into Engineering by the rule, with the same move as a click, announced once
    // with the relocate menu.
    let engineering = world.b.team_id("engineering").unwrap();
    wait("eng-infra in Engineering", || async {
        (channel_on_b(&world, &eng).await.team_id == engineering).then_some(())
    })
    .await;
    let notice = announced(
        &world,
        &one,
        "Eng infra",
        "accepted into **Engineering** by rule 1 of org-a: `eng-*`",
    )
    .await;
    assert_eq!(action_ids(&notice), ["relocate"]);

    // Held for review, the DM's menu starting on the suggested team.
    let marketing = world.b.team_id("marketing").unwrap();
    let (_, p1, _, _) = both_dms(&world, "Plan Q3").await;
    let menu = &p1.props.attachments[0].actions[0];
    assert_eq!(menu.id, "team");
    assert_eq!(menu.default_option, marketing);
    assert!(attachment_text(&p1).contains("suggested team: **Marketing**"));
    assert_eq!(
        channel_on_b(&world, &plan).await.team_id,
        world.b.team_id("shared-inbox").unwrap()
    );

    // Rejected with the reason, which the sending side reads in the channel.
    let told = seen_on_a(&world, &social, "declined to receive this channel").await;
    assert!(
        told.message.contains("*We keep social channels in-house*"),
        "{}",
        told.message
    );
    wait("social-golf archived", || async {
        channel_on_b(&world, &social)
            .await
            .is_archived()
            .then_some(())
    })
    .await;
    announced(
        &world,
        &one,
        "Social golf",
        "rejected by rule 3 of org-a: `social-*`",
    )
    .await;

    // Nobody was asked about what the rules decided; each was announced once.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let bot_id = bot_id(&world);
    for admin in [&one, &two] {
        for display in ["Eng infra", "Social golf"] {
            assert!(
                admin.review_dm(&bot_id, display).await.is_none(),
                "{display} was decided by a rule: no DM"
            );
        }
    }
    assert_eq!(announcements(&world, &one, "Eng infra").await, 1);
    assert_eq!(announcements(&world, &one, "Social golf").await, 1);

    // The audit says which rule decided.
    let store = world.store().await;
    let accepted = request_of(&store, &eng).await;
    assert_eq!(accepted.state, RequestState::Accepted);
    assert_eq!(accepted.rule.as_deref(), Some("rule 1 of org-a: `eng-*`"));
    let audit = store.audit_for(&accepted.id).await.unwrap();
    assert!(
        audit.iter().any(|e| e.actor == "sharebot"
            && e.detail
                .contains("accepted into Engineering by rule 1 of org-a: `eng-*`")),
        "{audit:?}"
    );
    let rejected = request_of(&store, &social).await;
    assert_eq!(rejected.state, RequestState::Rejected);
    assert_eq!(
        rejected.note.as_deref(),
        Some("We keep social channels in-house")
    );
    let audit = store.audit_for(&rejected.id).await.unwrap();
    assert!(
        audit.iter().any(|e| e.action == "request.rejected"
            && e.detail.contains("rejected by rule 3 of org-a: `social-*`")),
        "{audit:?}"
    );
    // Every rule written is audited, with who wrote it.
    let written = store.audit_of("rule", &world.remote_id).await.unwrap();
    assert_eq!(written.len(), 3, "{written:?}");
    assert!(written.iter().all(|e| e.actor == one.id));
    // The connection's default team is the inbox (it was already).
    let rc = world
        .b_bot()
        .get_remote_cluster(&world.remote_id)
        .await
        .unwrap();
    assert_eq!(rc.default_team_id, world.b.team_id("shared-inbox").unwrap());
    bot.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_first_matching_rule_decides_moves_reorder_them_and_they_survive_a_restart() {
    // A connection that auto-accepts into Marketing: its first rule points it at the inbox.
    let world = World::new(MadeBy::Console, "marketing", &[]).await;
    let bot = world.start_bot().await;
    let one = world.admin("sysadmin").await;
    says(
        &world,
        &one,
        "@sharebot policy org-a auto-accept --team marketing",
        &["Marketing"],
    )
    .await;
    says(
        &world,
        &one,
        "@sharebot rule add org-a *-x reject",
        &["Added rule 1", "now arrive in **Shared Inbox**"],
    )
    .await;
    let rc = world
        .b_bot()
        .get_remote_cluster(&world.remote_id)
        .await
        .unwrap();
    assert_eq!(
        rc.default_team_id,
        world.b.team_id("shared-inbox").unwrap(),
        "a connection with rules has the inbox as its default team"
    );
    says(
        &world,
        &one,
        "@sharebot rule add org-a a-* accept --team engineering --private",
        &[
            "Added rule 2",
            "`a-*` (private) → accept into **Engineering**",
        ],
    )
    .await;
    says(
        &world,
        &one,
        "@sharebot rule test org-a a-x --private",
        &["rule 1 of org-a: `*-x`", "reject"],
    )
    .await;
    says(
        &world,
        &one,
        "@sharebot rule move org-a 2 1",
        &["Moved rule 2", "to place 1"],
    )
    .await;
    says(
        &world,
        &one,
        "@sharebot rule test org-a a-x --private",
        &["rule 1 of org-a: `a-*`", "accept into **Engineering**"],
    )
    .await;
    // The type narrows the rule: a public a-x still meets the reject.
    says(
        &world,
        &one,
        "@sharebot rule test org-a a-x",
        &["rule 2 of org-a: `*-x`", "reject"],
    )
    .await;
    // No rule: the auto-accept policy places it, from the inbox, the same way.
    says(
        &world,
        &one,
        "@sharebot rule test org-a budget",
        &[
            "the auto-accept policy of org-a",
            "accept into **Marketing**",
        ],
    )
    .await;
    says(
        &world,
        &one,
        "@sharebot rule move org-a 1 9",
        &["has rules 1 to 2: there is no rule 9"],
    )
    .await;

    bot.shutdown().await.unwrap();
    let bot = world.start_bot().await;
    says(
        &world,
        &one,
        "@sharebot rules org-a",
        &[
            "1. `a-*` (private) → accept into **Engineering**",
            "2. `*-x` → reject",
            "Otherwise: accepted into **Marketing** by the connection's policy",
        ],
    )
    .await;
    // Someone points the connection elsewhere in the System Console: the next pass points it
    // back at the inbox, where the rules place channels from.
    one.client
        .patch_remote_cluster(
            &world.remote_id,
            &sharebot::mattermost::models::RemoteClusterPatch {
                default_team_id: Some(world.b.team_id("marketing").unwrap()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let inbox = world.b.team_id("shared-inbox").unwrap();
    wait("the connection pointed at the inbox again", || async {
        let rc = world
            .b_bot()
            .get_remote_cluster(&world.remote_id)
            .await
            .unwrap();
        (rc.default_team_id == inbox).then_some(())
    })
    .await;
    let private = share_typed(&world, "a-x", "A x", "P").await;
    let public = world.share("b-x", "B x").await;
    let other = world.share("budget", "Budget").await;
    let engineering = world.b.team_id("engineering").unwrap();
    let marketing = world.b.team_id("marketing").unwrap();
    wait("a-x in Engineering", || async {
        (channel_on_b(&world, &private).await.team_id == engineering).then_some(())
    })
    .await;
    wait("b-x archived", || async {
        channel_on_b(&world, &public)
            .await
            .is_archived()
            .then_some(())
    })
    .await;
    wait("budget in Marketing", || async {
        (channel_on_b(&world, &other).await.team_id == marketing).then_some(())
    })
    .await;
    announced(
        &world,
        &one,
        "Budget",
        "accepted into **Marketing** by the auto-accept policy of org-a",
    )
    .await;
    says(
        &world,
        &one,
        "@sharebot rule remove org-a 1",
        &["Removed rule 1", "1 rule left"],
    )
    .await;
    let store = world.store().await;
    let rules = store.rules(&world.remote_id).await.unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(
        (rules[0].position, rules[0].rule.pattern.as_str()),
        (1, "*-x")
    );
    let changes: Vec<String> = store
        .audit_of("rule", &world.remote_id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| {
            let v: Value = serde_json::from_str(&e.detail).unwrap();
            v["change"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(changes, ["added", "added", "moved", "removed"]);
    bot.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_rule_applies_to_channels_already_pending_only_when_asked() {
    let world = World::new(MadeBy::Console, "shared-inbox", &[]).await;
    let channel = world.share("budget-2027", "Budget 2027").await;
    let bot = world.start_bot().await;
    let (one, _, two, _) = both_dms(&world, "Budget 2027").await;
    says(
        &world,
        &one,
        "@sharebot rule add org-a budget-* accept --team marketing",
        &[
            "Added rule 1",
            "applies to channels that arrive from now on",
        ],
    )
    .await;
    // Passes run every second: none of them touches the pending channel.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let store = world.store().await;
    let pending = request_of(&store, &channel).await;
    assert_eq!(pending.state, RequestState::Pending);
    assert!(pending.deciding.is_none());
    says(
        &world,
        &one,
        "@sharebot rule add org-a other-* reject --apply-pending",
        &[
            "Added rule 2",
            "already waiting for review are routed by the rules at the next pass",
        ],
    )
    .await;
    // The whole list routes it, first match first.
    let marketing = world.b.team_id("marketing").unwrap();
    wait("the pending channel in Marketing", || async {
        (channel_on_b(&world, &channel).await.team_id == marketing).then_some(())
    })
    .await;
    dm_showing(
        &world,
        &two,
        "Budget 2027",
        "accepted into **Marketing** by rule 1 of org-a: `budget-*`",
    )
    .await;
    announced(&world, &one, "Budget 2027", "by rule 1 of org-a").await;
    assert!(store
        .rules(&world.remote_id)
        .await
        .unwrap()
        .iter()
        .all(|r| !r.rule.apply_pending));
    bot.shutdown().await.unwrap();
}

#[tokio::test]
async fn bad_rules_get_one_line_saying_what_is_wrong_and_nothing_is_written() {
    let world = World::new(MadeBy::Console, "shared-inbox", &[]).await;
    let bot = world.start_bot().await;
    let one = world.admin("sysadmin").await;
    for (command, expected) in [
        (
            "@sharebot rule add org-a /[/ reject",
            "`/[/` is not a valid regular expression:",
        ),
        (
            "@sharebot rule add org-a eng-* accept --team nosuchteam",
            "There is no team \"nosuchteam\"",
        ),
        (
            "@sharebot rule add org-a eng-* accept --team shared-inbox",
            "is the review inbox",
        ),
        (
            "@sharebot rule add org-a eng-* review --suggest \"Shared Inbox\"",
            "is the review inbox",
        ),
        (
            "@sharebot rule add org-z eng-* reject",
            "There is no connection named \"org-z\"",
        ),
        (
            "@sharebot rule add org-a eng-* accept",
            "`accept` needs `--team <team>`",
        ),
        (
            "@sharebot rule add org-a eng-* reject --display /(/",
            "--display: `/(/` is not a valid regular expression",
        ),
        (
            "@sharebot rule remove org-a 1",
            "has no rules: there is no rule 1",
        ),
    ] {
        let answer = says(&world, &one, command, &[expected]).await;
        let first = answer.lines().next().unwrap_or_default();
        assert!(first.contains(expected), "{command}: {answer}");
    }
    let store = world.store().await;
    assert!(store.rules(&world.remote_id).await.unwrap().is_empty());
    assert!(store
        .audit_of("rule", &world.remote_id)
        .await
        .unwrap()
        .is_empty());
    bot.shutdown().await.unwrap();
}

#[tokio::test]
async fn always_reject_makes_a_rule_and_the_next_such_channel_is_declined_without_a_dm() {
    let world = World::new(MadeBy::Console, "shared-inbox", &[]).await;
    world.share("budget", "Budget").await;
    let bot = world.start_bot().await;
    let (one, p1, two, _) = both_dms(&world, "Budget").await;
    let (status, answer) = one.click(&p1.id, "reject", None).await;
    assert_eq!(status, 200, "{answer}");
    let done = dm_showing(&world, &two, "Budget", "rejected by @sysadmin").await;
    assert_eq!(action_ids(&done), ["alwaysreject", "alwaysrejectedit"]);
    assert_eq!(
        done.props.attachments[0].actions[0].name,
        "Always reject budget from Org A"
    );
    // Another admin makes it a rule from their own copy.
    let (status, answer) = two.click(&done.id, "alwaysreject", None).await;
    assert_eq!(status, 200, "{answer}");
    let store = world.store().await;
    let rules = store.rules(&world.remote_id).await.unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].rule.pattern, "budget");
    assert_eq!(rules[0].rule.created_by, two.id);
    let audit = store.audit_of("rule", &world.remote_id).await.unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].actor, two.id, "the audit says who made the rule");
    // Every copy says so, and offers it no more.
    let after = dm_showing(
        &world,
        &one,
        "Budget",
        "always rejected, by rule 1 of org-a: `budget`",
    )
    .await;
    assert!(action_ids(&after).is_empty(), "{:?}", action_ids(&after));
    // The button on a post that no longer offers it changes nothing.
    let (status, _) = two.click(&done.id, "alwaysreject", None).await;
    assert_ne!(status, 200);
    says(
        &world,
        &one,
        "@sharebot rule test org-a budget",
        &["rule 1 of org-a: `budget`", "reject"],
    )
    .await;

    // The dialog: the pattern edited, with a reason.
    world.share("expenses", "Expenses").await;
    let (one, p1, _, _) = both_dms(&world, "Expenses").await;
    one.click(&p1.id, "reject", None).await;
    let refused = dm_showing(&world, &one, "Expenses", "rejected by @sysadmin").await;
    let mut ws = socket(world.b.site_url(), &one.token).await;
    let (status, answer) = one.click(&refused.id, "alwaysrejectedit", None).await;
    assert_eq!(status, 200, "{answer}");
    let event = next_named(&mut ws, "open_dialog").await;
    let opened: Value = serde_json::from_str(event["data"]["dialog"].as_str().unwrap()).unwrap();
    let dialog = &opened["dialog"];
    assert_eq!(dialog["elements"][0]["name"], "pattern");
    assert_eq!(dialog["elements"][0]["default"], "expenses");
    let submit = |submission: Value| {
        json!({"url": opened["url"], "callback_id": dialog["callback_id"], "state": dialog["state"],
               "channel_id": refused.channel_id, "team_id": world.b.team_id("engineering").unwrap(),
               "submission": submission, "cancelled": false})
    };
    let (status, body) = one.submit_dialog(&submit(json!({"pattern": "/[/"}))).await;
    assert_eq!(status, 200);
    assert!(
        body["errors"]["pattern"]
            .as_str()
            .unwrap_or_default()
            .contains("is not a valid regular expression"),
        "{body}"
    );
    let (status, body) = one
        .submit_dialog(&submit(
            json!({"pattern": "expenses-*", "reason": "Expenses stay in our own tools"}),
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.get("errors")
            .is_none_or(|e| e.as_object().is_none_or(|o| o.is_empty())),
        "{body}"
    );
    let rules = store.rules(&world.remote_id).await.unwrap();
    assert_eq!(rules.len(), 2);
    assert_eq!(rules[1].rule.pattern, "expenses-*");

    // The next channel of that kind is declined on arrival: no DM, the reason told.
    let next = world.share("expenses-q4", "Expenses Q4").await;
    let told = seen_on_a(&world, &next, "declined to receive this channel").await;
    assert!(
        told.message.contains("*Expenses stay in our own tools*"),
        "{}",
        told.message
    );
    announced(
        &world,
        &one,
        "Expenses Q4",
        "rejected by rule 2 of org-a: `expenses-*`",
    )
    .await;
    let bot_id = bot_id(&world);
    assert!(one.review_dm(&bot_id, "Expenses Q4").await.is_none());
    assert!(two.review_dm(&bot_id, "Expenses Q4").await.is_none());
    bot.shutdown().await.unwrap();
}
