//! The demo's story, played through the HTTP APIs a person's client uses: connect two
//! organizations from chat, share two channels, accept one into a team and reject the other
//! from the admins' DMs, and see messages flow both ways; then share a third and leave its
//! request pending for the person watching to decide.

use serde_json::{json, Map, Value};

use crate::mattermost::models::{NewChannel, Post, SubmitDialogRequest};
use crate::mattermost::{Event, WsConfig, WsMessage};

use super::draw;
use super::org::{wait_for, Org, Person};

/// What the scenario learned that the hand-driven part after it reuses.
pub struct Outcome {
    pub accepted_channel: String,
    pub rejected_channel: String,
    /// The request left pending: its channel's display name, the first admin's DM channel
    /// with the bot and the DM post about it (whose buttons are still live).
    pub pending_display: String,
    pub pending_dm_channel: String,
    pub pending_post: String,
    /// Org B's teams a channel can be accepted into, `(display name, id)`.
    pub teams: Vec<(String, String)>,
}

/// Asks the bot in the admin channel; returns its first answer in that thread.
async fn ask(org: &Org, who: &Person, text: &str) -> Result<Post, String> {
    draw::act(
        org.label,
        &who.user.username,
        &format!("in ~admins: {text}"),
    );
    let asked = who.post(&org.admin_channel, text, "").await?;
    let bot = org.bot_id();
    let answer = wait_for(&format!("sharebot's answer to {text:?}"), || async {
        who.posts(&org.admin_channel)
            .await
            .into_iter()
            .find(|p| p.user_id == bot && p.root_id == asked.id)
    })
    .await?;
    draw::shows(org.label, "the thread", &draw::post(&answer));
    Ok(answer)
}

/// The bot's root post in `who`'s DM that satisfies `wanted`.
async fn bot_dm(
    org: &Org,
    who: &Person,
    what: &str,
    wanted: impl Fn(&Post) -> bool,
) -> Result<Post, String> {
    let bot = org.bot_id();
    let dm = who.dm_with(&bot).await?;
    wait_for(what, || async {
        who.posts(&dm)
            .await
            .into_iter()
            .rev()
            .find(|p| p.user_id == bot && p.root_id.is_empty() && wanted(p))
    })
    .await
}

fn text_of(post: &Post) -> String {
    let mut text = post.message.clone();
    for a in &post.props.attachments {
        text.push('\n');
        text.push_str(&a.text);
    }
    text
}

/// The invite code in the invitation DM.
fn invite_code(message: &str) -> Option<String> {
    Some(message.split("```").nth(1)?.trim().to_string())
}

/// The password in the ephemeral post that follows the invitation DM.
fn invite_password(message: &str) -> Option<String> {
    Some(message.split(": `").nth(1)?.split('`').next()?.to_string())
}

/// Clicks `action` on `post` as `who` (through the server, as the web app does).
async fn click(
    who: &Person,
    post: &Post,
    action: &str,
    selected: Option<&str>,
) -> Result<(), String> {
    who.client
        .click(&post.id, action, selected)
        .await
        .map(drop)
        .map_err(|e| format!("clicking {action}: {}", e.user_message()))
}

/// Plays the whole story; every step waits for its outcome and fails with what was missing.
pub async fn play(a: &Org, b: &Org) -> Result<Outcome, String> {
    let (a_admin, b_admin, b_admin2) = (&a.admins[0], &b.admins[0], &b.admins[1]);

    draw::step(1, "Org A's admin asks sharebot for a connection to Org B");
    // The password comes as an ephemeral post: only a connected client receives it, so
    // listen as the admin's client would.
    let (close, closed) = tokio::sync::watch::channel(false);
    let socket = a_admin.client.websocket(WsConfig::default(), closed);
    let mut events = socket.messages;
    tokio::time::timeout(super::org::STEP_TIMEOUT, async {
        while let Some(message) = events.recv().await {
            if matches!(message, WsMessage::Connected { .. }) {
                return;
            }
        }
    })
    .await
    .map_err(|_| "@sysadmin's client did not connect")?;
    ask(a, a_admin, "@sharebot connect orgb \"Org B\"").await?;
    let ephemeral = tokio::time::timeout(super::org::STEP_TIMEOUT, async {
        while let Some(message) = events.recv().await {
            if let WsMessage::Event(Event::EphemeralMessage { post }) = message {
                if post.message.contains("Password for the invitation") {
                    return Some(post.message);
                }
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
    .ok_or("the password did not come")?;
    close.send_replace(true);
    let _ = socket.task.await;
    let dm = bot_dm(a, a_admin, "the invitation DM", |p| {
        p.message.contains("Invite code")
    })
    .await?;
    let code = invite_code(&dm.message).ok_or("the invitation DM has no code")?;
    let password = invite_password(&ephemeral).ok_or("the password message has no password")?;
    let shown = dm
        .message
        .replace(&code, &draw::redact(&code))
        .replace(&password, &draw::redact(&password));
    draw::shows(a.label, "@sysadmin's DM (and nobody else's)", &shown);
    draw::shows(
        a.label,
        "@sysadmin alone, not stored, no notification",
        &ephemeral.replace(&password, &draw::redact(&password)),
    );
    draw::note("(Org A's admin sends the code and the password to Org B's admin, by two routes.)");

    draw::step(
        2,
        "Org B's admin accepts the invitation through sharebot's dialog",
    );
    let offer = ask(b, b_admin, "@sharebot accept-invite").await?;
    // The dialog opens in the clicking person's client: listen as that person would.
    let (close, closed) = tokio::sync::watch::channel(false);
    let socket = b_admin.client.websocket(WsConfig::default(), closed);
    let mut events = socket.messages;
    tokio::time::timeout(super::org::STEP_TIMEOUT, async {
        while let Some(message) = events.recv().await {
            if matches!(message, WsMessage::Connected { .. }) {
                return;
            }
        }
    })
    .await
    .map_err(|_| "@sysadmin's client did not connect")?;
    click(b_admin, &offer, "enterinvite", None).await?;
    let opened = tokio::time::timeout(super::org::STEP_TIMEOUT, async {
        while let Some(message) = events.recv().await {
            if let WsMessage::Event(Event::Other { event, data, .. }) = message {
                if event == "open_dialog" {
                    return data
                        .get("dialog")
                        .and_then(Value::as_str)
                        .map(str::to_string);
                }
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
    .ok_or("the dialog did not open")?;
    close.send_replace(true);
    let _ = socket.task.await;
    let opened: Value = serde_json::from_str(&opened).map_err(|e| e.to_string())?;
    let dialog = &opened["dialog"];
    let fields: Vec<&str> = dialog["elements"]
        .as_array()
        .map(|e| {
            e.iter()
                .filter_map(|f| f["display_name"].as_str())
                .collect()
        })
        .unwrap_or_default();
    draw::shows(
        b.label,
        "@sysadmin",
        &format!(
            "a dialog, “{}”, with the fields: {}",
            dialog["title"].as_str().unwrap_or_default(),
            fields.join(", ")
        ),
    );
    draw::act(b.label, &b_admin.user.username, "fills it in: name orga, display name Org A, the code (pasted), the password (typed), hold channels for review");
    let mut submission = Map::new();
    for (k, v) in [
        ("name", "orga"),
        ("display_name", "Org A"),
        ("invite", code.as_str()),
        ("password", password.as_str()),
        ("policy", "review"),
    ] {
        submission.insert(k.into(), json!(v));
    }
    let answer = b_admin
        .client
        .submit_dialog(&SubmitDialogRequest {
            request_type: "dialog_submission".into(),
            url: opened["url"].as_str().unwrap_or_default().into(),
            callback_id: dialog["callback_id"].as_str().unwrap_or_default().into(),
            state: dialog["state"].as_str().unwrap_or_default().into(),
            user_id: b_admin.user.id.clone(),
            channel_id: b.admin_channel.clone(),
            team_id: b.sandbox.team_id("engineering").unwrap_or_default(),
            submission,
            cancelled: false,
        })
        .await
        .map_err(|e| format!("submitting the dialog: {}", e.user_message()))?;
    if !answer.error.is_empty() || !answer.errors.is_empty() {
        return Err(format!(
            "the dialog was refused: {} {:?}",
            answer.error, answer.errors
        ));
    }
    let bot = b.bot_id();
    let done = wait_for("the connection confirmed in the thread", || async {
        b_admin.posts(&b.admin_channel).await.into_iter().find(|p| {
            p.user_id == bot && p.root_id == offer.root_id && p.message.contains("Connected to")
        })
    })
    .await?;
    draw::shows(b.label, "the thread", &draw::post(&done));

    draw::step(3, "Both sides see the connection");
    for (org, who) in [(a, a_admin), (b, b_admin)] {
        wait_for(
            &format!("{} to see the other side online", org.label),
            || async {
                let all = who
                    .client
                    .list_remote_clusters(&Default::default())
                    .await
                    .ok()?;
                all.iter()
                    .any(|rc| rc.is_confirmed() && rc.last_ping_at > 0)
                    .then_some(())
            },
        )
        .await?;
        let table = ask(org, who, "@sharebot connections").await?;
        if !text_of(&table).contains("Connected") {
            return Err(format!(
                "{} does not show the connection as connected",
                org.label
            ));
        }
    }

    draw::step(4, "Org A shares two channels with Org B");
    let engineering = a
        .sandbox
        .team_id("engineering")
        .ok_or("no engineering team")?;
    let mut channels = Vec::new();
    for (name, display) in [("launch-plan", "Launch plan"), ("hiring", "Hiring")] {
        let channel = a_admin
            .client
            .create_channel(&NewChannel {
                team_id: engineering.clone(),
                name: name.into(),
                display_name: display.into(),
                channel_type: "O".into(),
                purpose: format!("{display}, with our partners at Org B"),
                ..NewChannel::default()
            })
            .await
            .map_err(|e| e.user_message())?;
        ask(a, a_admin, &format!("@sharebot share ~{name} with orgb")).await?;
        channels.push(channel);
    }
    let (launch, hiring) = (&channels[0], &channels[1]);

    draw::step(5, "Each of Org B's admins gets a DM about each channel");
    let mut first_dms = Vec::new();
    for who in [b_admin, b_admin2] {
        for channel in [launch, hiring] {
            let display = channel.display_name.clone();
            let dm = bot_dm(
                b,
                who,
                &format!("@{}'s DM about {display}", who.user.username),
                |p| {
                    text_of(p).contains(&display)
                        && p.props.attachments.iter().any(|a| !a.actions.is_empty())
                },
            )
            .await?;
            first_dms.push((who.user.username.clone(), display, dm));
        }
    }
    let (_, _, launch_dm) = &first_dms[0];
    draw::shows(
        b.label,
        "@sysadmin's DM about Launch plan",
        &draw::post(launch_dm),
    );
    draw::note("(@sysadmin2 got the same two DMs.)");

    draw::step(
        6,
        "One admin accepts Launch plan into Marketing, the other rejects Hiring",
    );
    let marketing = b.sandbox.team_id("marketing").ok_or("no marketing team")?;
    draw::act(
        b.label,
        "sysadmin",
        "picks Marketing in the Team menu of the Launch plan DM, then clicks Accept",
    );
    click(b_admin, launch_dm, "team", Some(&marketing)).await?;
    click(b_admin, launch_dm, "accept", None).await?;
    let hiring_dm = &first_dms[3].2;
    draw::act(b.label, "sysadmin2", "clicks Reject in the Hiring DM");
    click(b_admin2, hiring_dm, "reject", None).await?;
    let accepted = bot_dm(
        b,
        b_admin2,
        "@sysadmin2's copy to show the acceptance",
        |p| text_of(p).contains("Launch plan") && text_of(p).contains("accepted into"),
    )
    .await?;
    draw::shows(
        b.label,
        "@sysadmin2's DM about Launch plan, updated",
        &draw::post(&accepted),
    );
    let rejected = bot_dm(b, b_admin, "@sysadmin's copy to show the rejection", |p| {
        text_of(p).contains("Hiring") && text_of(p).contains("rejected")
    })
    .await?;
    draw::shows(
        b.label,
        "@sysadmin's DM about Hiring, updated",
        &draw::post(&rejected),
    );
    let moved = wait_for("Launch plan to be in Marketing", || async {
        let c = b_admin.client.get_channel(&launch.id).await.ok()?;
        (c.team_id == marketing).then_some(c)
    })
    .await?;
    draw::note(&format!(
        "Launch plan is now in Marketing on Org B (~{}).",
        moved.name
    ));
    let notice = wait_for("the decline notice to reach Org A", || async {
        a_admin
            .posts(&hiring.id)
            .await
            .into_iter()
            .find(|p| p.message.contains("declined"))
    })
    .await?;
    draw::shows(a.label, "in ~hiring", &notice.message);

    draw::step(7, "Messages flow both ways in the accepted channel");
    draw::act(
        a.label,
        "sysadmin",
        "in ~launch-plan: Kick-off is on Monday at 10:00.",
    );
    a_admin
        .post(&launch.id, "Kick-off is on Monday at 10:00.", "")
        .await?;
    wait_for("the message to reach Org B", || async {
        b_admin
            .posts(&launch.id)
            .await
            .into_iter()
            .find(|p| p.message.contains("Kick-off is on Monday"))
    })
    .await?;
    draw::note("Org B · @sysadmin sees it in Marketing › Launch plan.");
    draw::act(b.label, "sysadmin", "answers: We'll be there.");
    b_admin.post(&launch.id, "We'll be there.", "").await?;
    wait_for("the answer to reach Org A", || async {
        a_admin
            .posts(&launch.id)
            .await
            .into_iter()
            .find(|p| p.message.contains("We'll be there"))
    })
    .await?;
    draw::note("Org A · @sysadmin sees the answer in ~launch-plan.");

    draw::step(8, "The audit trail on Org B");
    ask(b, b_admin, "@sharebot audit 5").await?;

    draw::step(
        9,
        "Org A shares one more channel: its request waits for you",
    );
    let roadmap = a_admin
        .client
        .create_channel(&NewChannel {
            team_id: engineering.clone(),
            name: "roadmap".into(),
            display_name: "Roadmap".into(),
            channel_type: "O".into(),
            purpose: "What we build next, with Org B".into(),
            ..NewChannel::default()
        })
        .await
        .map_err(|e| e.user_message())?;
    ask(a, a_admin, "@sharebot share ~roadmap with orgb").await?;
    let pending = bot_dm(b, b_admin, "@sysadmin's DM about Roadmap", |p| {
        text_of(p).contains(&roadmap.display_name)
            && p.props.attachments.iter().any(|a| !a.actions.is_empty())
    })
    .await?;
    draw::shows(
        b.label,
        "@sysadmin's DM about Roadmap",
        &draw::post(&pending),
    );
    draw::note("(Nobody decides it here: the lines below let you do it.)");
    let mut teams = Vec::new();
    for name in ["marketing", "engineering"] {
        let id = b.sandbox.team_id(name).ok_or("a team is missing")?;
        let display = b_admin
            .client
            .get_team(&id)
            .await
            .map(|t| t.display_name)
            .unwrap_or_else(|_| name.to_string());
        teams.push((display, id));
    }

    Ok(Outcome {
        accepted_channel: launch.id.clone(),
        rejected_channel: hiring.id.clone(),
        pending_display: roadmap.display_name.clone(),
        pending_dm_channel: pending.channel_id.clone(),
        pending_post: pending.id.clone(),
        teams,
    })
}
