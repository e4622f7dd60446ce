//! The buttons and the dialog commands answer with: "Enter invitation…" (opens the
//! accept-invite dialog), "Disconnect" / "Keep" (confirming `disconnect`). Every context and
//! dialog state is signed over (command, subject, user); clicks and submissions are trusted
//! only when the signature verifies and the user is a system admin now.

use serde_json::{json, Map, Value};

use crate::http::{ephemeral, CallbackRefusal};
use crate::mattermost::models::{
    Dialog, DialogElement, MessageAttachment, OpenDialogRequest, Post, PostAction,
    PostActionIntegration, PostActionIntegrationRequest, PostActionIntegrationResponse,
    PostActionOption, PostPatch, PostProps, SubmitDialogRequest, SubmitDialogResponse, Team,
};

use super::{Asked, CommandError, Commands};

/// Action ids (alphanumeric) and what they do.
pub const OPEN_INVITE: &str = "enterinvite";
pub const DISCONNECT: &str = "disconnect";
pub const KEEP: &str = "keep";
/// Confirming (or not) `unshare` of a channel we received: it cuts off our copy.
pub const UNSHARE_RECEIVED: &str = "unsharereceived";
pub const KEEP_RECEIVED: &str = "keepreceived";
/// The accept-invite dialog's callback id.
pub const INVITE_DIALOG: &str = "sharebot_accept_invite";
/// The longest invite code the dialog takes (current codes are well under 1 000 characters).
const INVITE_MAX: u32 = 4000;

/// The accept-invite dialog: connection name, display name, code, password, policy and the
/// destination team for automatic acceptance.
pub(crate) fn invite_dialog(teams: &[Team], inbox: &str, state: String) -> Dialog {
    let element = |name: &str, display: &str, kind: &str| DialogElement {
        name: name.into(),
        display_name: display.into(),
        element_type: kind.into(),
        ..DialogElement::default()
    };
    let elements = vec![
        DialogElement {
            placeholder: "org-a".into(),
            help_text: "How we call them here: 1–64 letters, digits, dots, dashes or underscores."
                .into(),
            min_length: Some(1),
            max_length: Some(64),
            ..element("name", "Connection name", "text")
        },
        DialogElement {
            optional: true,
            max_length: Some(64),
            placeholder: "Org A".into(),
            ..element("display_name", "Display name", "text")
        },
        DialogElement {
            max_length: Some(INVITE_MAX),
            help_text: "The whole code their admin sent you.".into(),
            ..element("invite", "Invite code", "textarea")
        },
        DialogElement {
            subtype: "password".into(),
            max_length: Some(256),
            help_text: "The password their admin sent you separately.".into(),
            ..element("password", "Password", "text")
        },
        DialogElement {
            default: "review".into(),
            help_text: "What happens to the channels they share with us.".into(),
            options: vec![
                PostActionOption {
                    text: format!("Hold for review (in {inbox})"),
                    value: "review".into(),
                },
                PostActionOption {
                    text: "Accept automatically into the team below".into(),
                    value: "auto-accept".into(),
                },
            ],
            ..element("policy", "Their channels", "select")
        },
        DialogElement {
            optional: true,
            help_text: "Only for automatic acceptance.".into(),
            options: teams
                .iter()
                .map(|t| PostActionOption {
                    text: t.display_name.clone(),
                    value: t.id.clone(),
                })
                .collect(),
            ..element("team", "Destination team", "select")
        },
    ];
    Dialog {
        callback_id: INVITE_DIALOG.into(),
        title: "Accept an invitation".into(),
        introduction_text: "Paste what the other organization's admin sent you. The code and password go to Mattermost only; nobody else sees them.".into(),
        elements,
        submit_label: "Connect".into(),
        state,
        ..Dialog::default()
    }
}

/// The `kind` of a command button's sealed context and of a command dialog's sealed state.
const COMMAND_BUTTON: &str = "command_button";
const COMMAND_DIALOG: &str = "command_dialog";

/// A command button's context or a dialog's state, once its seal verified: every field the
/// handlers read is among the sealed ones.
struct Signed<'a> {
    cmd: &'a str,
    subject: &'a str,
    /// The admin who asked.
    user: &'a str,
    /// Where the command was asked, and its thread.
    channel: &'a str,
    root: &'a str,
    direct: bool,
    /// The team of the channel where the command was asked (empty in a DM).
    team: &'a str,
    /// The id of the post's buttons (button contexts only).
    button: &'a str,
    /// The whole sealed map, for the extra fields of [`Commands::button_with`].
    fields: &'a Map<String, Value>,
}

impl Signed<'_> {
    /// A sealed extra field (see [`Commands::button_with`]).
    #[allow(dead_code)]
    fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).and_then(Value::as_str)
    }

    /// The command the button or dialog answers, as it was asked.
    fn asked(&self, post_id: &str) -> Asked {
        Asked {
            user_id: self.user.to_string(),
            channel_id: self.channel.to_string(),
            post_id: post_id.to_string(),
            root_id: self.root.to_string(),
            direct: self.direct,
            team_id: self.team.to_string(),
        }
    }
}

/// The unsealed fields saying which command asked, where (sealed when the post is sent).
fn asked_fields(kind: &str, cmd: &str, subject: &str, asked: &Asked) -> Map<String, Value> {
    let mut fields = Map::new();
    fields.insert("kind".into(), json!(kind));
    fields.insert("cmd".into(), json!(cmd));
    fields.insert("subject".into(), json!(subject));
    fields.insert("user".into(), json!(asked.user_id));
    fields.insert("channel".into(), json!(asked.channel_id));
    fields.insert("root".into(), json!(asked.root_id));
    fields.insert("direct".into(), json!(asked.direct.to_string()));
    fields.insert("team".into(), json!(asked.team_id));
    fields
}

impl Commands {
    /// Opens a sealed map of `kind`: 400 without a seal, 403 with a bad one or another kind.
    fn verify<'a>(
        &self,
        map: &'a Map<String, Value>,
        kind: &str,
    ) -> Result<Signed<'a>, CallbackRefusal> {
        self.ctx.signer.open(map).map_err(crate::review::refusal)?;
        let field = |k: &str| map.get(k).and_then(Value::as_str);
        let (Some(found), Some(cmd), Some(subject), Some(user), Some(channel), Some(root)) = (
            field("kind"),
            field("cmd"),
            field("subject"),
            field("user"),
            field("channel"),
            field("root"),
        ) else {
            return Err(CallbackRefusal::Forged);
        };
        if found != kind {
            return Err(CallbackRefusal::Forged);
        }
        Ok(Signed {
            cmd,
            subject,
            user,
            channel,
            root,
            direct: field("direct") == Some("true"),
            team: field("team").unwrap_or_default(),
            button: field("button").unwrap_or_default(),
            fields: map,
        })
    }

    /// A button for `cmd` on `subject`, for the admin who asked. Its context is sealed, with
    /// the post's button id, when [`Commands::post_reply`] sends the post; a click counts
    /// only from that post, until an answer replaces the post's buttons.
    pub(super) fn button(
        &self,
        id: &str,
        name: &str,
        style: &str,
        subject: &str,
        asked: &Asked,
    ) -> PostAction {
        self.button_with(id, name, style, subject, &[], asked)
    }

    /// [`Commands::button`] with extra string fields, sealed with the rest and read back
    /// with `Signed::field`.
    fn button_with(
        &self,
        id: &str,
        name: &str,
        style: &str,
        subject: &str,
        extra: &[(&str, &str)],
        asked: &Asked,
    ) -> PostAction {
        let mut context = asked_fields(COMMAND_BUTTON, id, subject, asked);
        for (k, v) in extra {
            context.entry(k.to_string()).or_insert_with(|| json!(v));
        }
        PostAction {
            id: id.into(),
            action_type: "button".into(),
            name: name.into(),
            style: style.into(),
            integration: Some(PostActionIntegration {
                url: self.ctx.actions_url.clone(),
                context,
            }),
            ..PostAction::default()
        }
    }

    /// Seals every command button of `props` for the post whose buttons are `button_id`;
    /// true when there was one.
    fn seal_buttons(&self, props: &mut PostProps, button_id: &str) -> bool {
        let mut any = false;
        for action in props
            .attachments
            .iter_mut()
            .flat_map(|a| a.actions.iter_mut())
        {
            let Some(integration) = action.integration.as_mut() else {
                continue;
            };
            if integration.context.get("kind") != Some(&json!(COMMAND_BUTTON)) {
                continue;
            }
            let mut fields = std::mem::take(&mut integration.context);
            fields.insert("button".into(), json!(button_id));
            integration.context = self.ctx.signer.seal(fields);
            any = true;
        }
        any
    }

    /// Sends a post with command buttons: its buttons sealed with a fresh button id, recorded
    /// before it is sent and bound to the post it was sent as (a click from any other post,
    /// a copy for instance, is refused).
    pub(super) async fn send_with_buttons(&self, mut post: Post) -> Result<Post, CommandError> {
        let button_id = crate::ids::new_id();
        if !self.seal_buttons(&mut post.props, &button_id) {
            return Ok(self.ctx.client.create_post(&post).await?);
        }
        let props = serde_json::to_string(&post.props).unwrap_or_default();
        self.ctx
            .store
            .record_button_post(
                &button_id,
                &post.channel_id,
                &props,
                self.ctx.signer.key_id(),
            )
            .await?;
        let sent = self.ctx.client.create_post(&post).await?;
        self.ctx
            .store
            .button_post_sent(&button_id, &sent.id)
            .await?;
        Ok(sent)
    }

    /// Re-signs, with the current key, the buttons of every open post signed with another
    /// one (after `server.secret` changed): the stored props are sealed again and the post's
    /// props replaced. A post that is gone is closed.
    pub async fn resign_open_posts(&self) -> Result<usize, CommandError> {
        let store = &self.ctx.store;
        let key = self.ctx.signer.key_id();
        let mut done = 0;
        for row in store.button_posts_signed_otherwise(key).await? {
            let Some(post_id) = row.post_id.as_deref() else {
                continue;
            };
            let mut props: PostProps = serde_json::from_str(&row.props).unwrap_or_default();
            if !self.seal_buttons(&mut props, &row.button_id) {
                store.close_button_post(&row.button_id).await?;
                continue;
            }
            let patch = PostPatch {
                message: None,
                props: Some(props.clone()),
            };
            match self.ctx.client.patch_post(post_id, &patch).await {
                Ok(_) => {}
                Err(e) if e.is_not_found() => {
                    store.close_button_post(&row.button_id).await?;
                    continue;
                }
                Err(e) => return Err(e.into()),
            }
            let props = serde_json::to_string(&props).unwrap_or_default();
            store
                .resign_button_post(&row.button_id, &props, key)
                .await?;
            done += 1;
        }
        if done > 0 {
            tracing::info!(
                posts = done,
                "re-signed the command buttons signed with an older key"
            );
        }
        Ok(done)
    }

    /// `accept-invite`: a button that opens the dialog (a dialog needs a click's trigger id).
    pub(super) async fn offer_invite_dialog(&self, asked: &Asked) -> Result<(), CommandError> {
        let text = self.say(asked, "accept_invite", json!({}))?;
        let reply = super::Reply {
            text: String::new(),
            attachments: vec![MessageAttachment {
                fallback: "Accept an invitation".into(),
                text,
                actions: vec![self.button(
                    OPEN_INVITE,
                    "Enter invitation…",
                    "primary",
                    &asked.root_id,
                    asked,
                )],
                ..MessageAttachment::default()
            }],
        };
        self.post_answer(asked, reply).await;
        Ok(())
    }

    /// `disconnect <name>`: asks for confirmation with a button.
    pub(super) async fn offer_disconnect(
        &self,
        asked: &Asked,
        name: &str,
    ) -> Result<(), CommandError> {
        let rc = super::lookup::connection(&self.ctx, name).await?;
        let (outgoing, incoming) = self.shared_counts(&rc.remote_id).await?;
        let text = self.say(
            asked,
            "disconnect_confirm",
            json!({"org": rc.display_name, "name": rc.name, "outgoing": outgoing.to_string(), "incoming": incoming.to_string()}),
        )?;
        let reply = super::Reply {
            text: String::new(),
            attachments: vec![MessageAttachment {
                fallback: format!("Disconnect {}?", rc.display_name),
                color: "#d24b4e".into(),
                text,
                actions: vec![
                    self.button(DISCONNECT, "Disconnect", "danger", &rc.remote_id, asked),
                    self.button(KEEP, "Keep", "default", &rc.remote_id, asked),
                ],
                ..MessageAttachment::default()
            }],
        };
        self.post_answer(asked, reply).await;
        Ok(())
    }

    /// Whether a callback is one of the commands' (its context or state names a command).
    pub fn owns_action(click: &PostActionIntegrationRequest) -> bool {
        click.context.contains_key("cmd") || Commands::owns_share_click(click)
    }

    pub fn owns_dialog(submit: &SubmitDialogRequest) -> bool {
        submit.callback_id == INVITE_DIALOG
            || submit.callback_id == super::share_requests::SHARE_DIALOG
    }

    /// A click on a command's button.
    pub async fn action(
        &self,
        click: PostActionIntegrationRequest,
    ) -> Result<PostActionIntegrationResponse, CallbackRefusal> {
        if Commands::owns_share_click(&click) {
            return self.share_click(click).await;
        }
        let signed = self.verify(&click.context, COMMAND_BUTTON)?;
        let answer = match self.checked_action(&click, &signed).await {
            Ok(answer) => answer,
            Err(err) => {
                tracing::warn!(cmd = signed.cmd, "a command button failed: {err}");
                ephemeral(format!("That did not work: {}", err.user_message()))
            }
        };
        Ok(answer)
    }

    async fn checked_action(
        &self,
        click: &PostActionIntegrationRequest,
        signed: &Signed<'_>,
    ) -> Result<PostActionIntegrationResponse, CommandError> {
        // The click must come from the very post the buttons were sent as.
        let row = self.ctx.store.button_post(&click.post_id).await?;
        let Some(row) = row.filter(|r| !signed.button.is_empty() && r.button_id == signed.button)
        else {
            return Ok(ephemeral(
                "This button is not valid here. Nothing was changed.".into(),
            ));
        };
        if row.closed_at.is_some() {
            return Ok(ephemeral(
                "This question was already answered. Nothing was changed.".into(),
            ));
        }
        if !self.ctx.is_admin_now(&click.user_id).await? {
            return Ok(ephemeral(
                "Only system admins can do this. Nothing was changed.".into(),
            ));
        }
        let asked = signed.asked(&click.post_id);
        let answer = match signed.cmd {
            OPEN_INVITE => {
                if click.user_id != signed.user {
                    return Ok(ephemeral(
                        "This button is for the admin who asked; run `accept-invite` yourself."
                            .into(),
                    ));
                }
                self.open_invite_dialog(click, signed).await?;
                PostActionIntegrationResponse::default()
            }
            DISCONNECT => {
                self.disconnect_confirmed(click, signed.subject, &asked)
                    .await?
            }
            KEEP => {
                let rc = self.ctx.client.get_remote_cluster(signed.subject).await;
                let org = rc.map(|rc| rc.display_name).unwrap_or_default();
                let by = self.ctx.username(&click.user_id).await;
                let text = self.say(&asked, "disconnect_kept", json!({"org": org, "by": by}))?;
                PostActionIntegrationResponse {
                    update: Some(super::connections::outcome_post(text, "#8a8a8a")),
                    ..Default::default()
                }
            }
            UNSHARE_RECEIVED | KEEP_RECEIVED => {
                let keep = signed.cmd == KEEP_RECEIVED;
                self.unshare_received_confirmed(click, signed.subject, keep, &asked)
                    .await?
            }
            _ => {
                return Ok(ephemeral(
                    "This button is not valid. Nothing was changed.".into(),
                ))
            }
        };
        // A post answered with an update without buttons is closed: a replayed click changes
        // nothing.
        let buttons_left = answer
            .update
            .as_ref()
            .map(|u| u.props.attachments.iter().any(|a| !a.actions.is_empty()));
        if buttons_left == Some(false) {
            self.ctx.store.close_button_post(&row.button_id).await?;
        }
        Ok(answer)
    }

    async fn open_invite_dialog(
        &self,
        click: &PostActionIntegrationRequest,
        signed: &Signed<'_>,
    ) -> Result<(), CommandError> {
        let teams = self.ctx.refresh_teams().await?;
        let asked = signed.asked(&click.post_id);
        let fields = asked_fields(COMMAND_DIALOG, OPEN_INVITE, signed.subject, &asked);
        let state = Value::Object(self.ctx.signer.seal(fields));
        self.ctx
            .client
            .open_dialog(&OpenDialogRequest {
                trigger_id: click.trigger_id.clone(),
                url: self.ctx.dialogs_url.clone(),
                dialog: invite_dialog(
                    &teams,
                    &self.ctx.places.inbox_team.display_name,
                    state.to_string(),
                ),
            })
            .await?;
        Ok(())
    }

    /// The accept-invite dialog's submission.
    pub async fn dialog(
        &self,
        submit: SubmitDialogRequest,
    ) -> Result<SubmitDialogResponse, CallbackRefusal> {
        if submit.callback_id == super::share_requests::SHARE_DIALOG {
            return self.share_dialog(submit).await;
        }
        let state: Map<String, Value> = serde_json::from_str(&submit.state).unwrap_or_default();
        let signed = self.verify(&state, COMMAND_DIALOG)?;
        if signed.cmd != OPEN_INVITE || signed.user != submit.user_id {
            return Err(CallbackRefusal::Forged);
        }
        if submit.cancelled {
            return Ok(SubmitDialogResponse::default());
        }
        let asked = signed.asked("");
        match self.accept_invite(&submit, &asked).await {
            Ok(answer) => Ok(answer),
            Err(err) => {
                tracing::warn!("accepting an invitation failed: {err}");
                Ok(SubmitDialogResponse {
                    error: format!("That did not work: {}", err.user_message()),
                    ..Default::default()
                })
            }
        }
    }
}
