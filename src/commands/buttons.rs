//! The buttons and the dialog commands answer with: "Enter invitation…" (opens the
//! accept-invite dialog), "Disconnect" / "Keep" (confirming `disconnect`). Every context and
//! dialog state is signed over (command, subject, user); clicks and submissions are trusted
//! only when the signature verifies and the user is a system admin now.

use serde_json::{json, Map, Value};

use crate::http::{ephemeral, field as text, CallbackRefusal};
use crate::mattermost::models::{
    Dialog, DialogElement, MessageAttachment, OpenDialogRequest, PostAction, PostActionIntegration,
    PostActionIntegrationRequest, PostActionIntegrationResponse, PostActionOption,
    SubmitDialogRequest, SubmitDialogResponse, Team,
};

use super::{Asked, CommandError, Commands};

/// Action ids (alphanumeric) and what they do.
pub const OPEN_INVITE: &str = "enterinvite";
pub const DISCONNECT: &str = "disconnect";
pub const KEEP: &str = "keep";
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

/// The signed part of a command button's context or a dialog's state.
struct Signed<'a> {
    cmd: &'a str,
    subject: &'a str,
    user: &'a str,
}

impl Commands {
    fn sign(&self, cmd: &str, subject: &str, user: &str) -> String {
        self.ctx.signer.sign(&format!("cmd:{cmd}"), subject, user)
    }

    /// Checks a signed map; `None` when a part is missing.
    fn verify<'a>(&self, map: &'a Map<String, Value>) -> Result<Signed<'a>, CallbackRefusal> {
        let (Some(cmd), Some(subject), Some(user), Some(sig)) = (
            text(map, "cmd"),
            text(map, "subject"),
            text(map, "user"),
            text(map, "sig"),
        ) else {
            return Err(CallbackRefusal::Unsigned);
        };
        if self
            .ctx
            .signer
            .verify(&format!("cmd:{cmd}"), subject, user, sig)
        {
            Ok(Signed { cmd, subject, user })
        } else {
            Err(CallbackRefusal::Forged)
        }
    }

    /// A button for `cmd` on `subject`, for the admin who asked.
    fn button(
        &self,
        id: &str,
        name: &str,
        style: &str,
        subject: &str,
        asked: &Asked,
    ) -> PostAction {
        let mut context = Map::new();
        context.insert("cmd".into(), json!(id));
        context.insert("subject".into(), json!(subject));
        context.insert("user".into(), json!(asked.user_id));
        context.insert("channel".into(), json!(asked.channel_id));
        context.insert("root".into(), json!(asked.root_id));
        context.insert("sig".into(), json!(self.sign(id, subject, &asked.user_id)));
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
        self.post_reply(asked, reply).await;
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
        self.post_reply(asked, reply).await;
        Ok(())
    }

    /// Whether a callback is one of the commands' (its context or state names a command).
    pub fn owns_action(click: &PostActionIntegrationRequest) -> bool {
        click.context.contains_key("cmd")
    }

    pub fn owns_dialog(submit: &SubmitDialogRequest) -> bool {
        submit.callback_id == INVITE_DIALOG
    }

    /// A click on a command's button.
    pub async fn action(
        &self,
        click: PostActionIntegrationRequest,
    ) -> Result<PostActionIntegrationResponse, CallbackRefusal> {
        let signed = self.verify(&click.context)?;
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
        if !self.ctx.is_admin_now(&click.user_id).await? {
            return Ok(ephemeral(
                "Only system admins can do this. Nothing was changed.".into(),
            ));
        }
        let asked = Asked {
            user_id: signed.user.to_string(),
            channel_id: text(&click.context, "channel")
                .unwrap_or_default()
                .to_string(),
            post_id: click.post_id.clone(),
            root_id: text(&click.context, "root").unwrap_or_default().to_string(),
            direct: click.team_id.is_empty(),
        };
        match signed.cmd {
            OPEN_INVITE => {
                if click.user_id != signed.user {
                    return Ok(ephemeral(
                        "This button is for the admin who asked; run `accept-invite` yourself."
                            .into(),
                    ));
                }
                self.open_invite_dialog(click, &asked).await?;
                Ok(PostActionIntegrationResponse::default())
            }
            DISCONNECT => {
                self.disconnect_confirmed(click, signed.subject, &asked)
                    .await
            }
            KEEP => {
                let rc = self.ctx.client.get_remote_cluster(signed.subject).await;
                let org = rc.map(|rc| rc.display_name).unwrap_or_default();
                let by = self.ctx.username(&click.user_id).await;
                let text = self.say(&asked, "disconnect_kept", json!({"org": org, "by": by}))?;
                Ok(PostActionIntegrationResponse {
                    update: Some(super::connections::outcome_post(text, "#8a8a8a")),
                    ..Default::default()
                })
            }
            _ => Ok(ephemeral(
                "This button is not valid. Nothing was changed.".into(),
            )),
        }
    }

    async fn open_invite_dialog(
        &self,
        click: &PostActionIntegrationRequest,
        asked: &Asked,
    ) -> Result<(), CommandError> {
        let teams = self.ctx.refresh_teams().await?;
        let state = json!({
            "cmd": OPEN_INVITE,
            "subject": asked.root_id,
            "user": asked.user_id,
            "channel": asked.channel_id,
            "sig": self.sign(OPEN_INVITE, &asked.root_id, &asked.user_id),
        });
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
        let state: Map<String, Value> = serde_json::from_str(&submit.state).unwrap_or_default();
        let signed = self.verify(&state)?;
        if signed.cmd != OPEN_INVITE || signed.user != submit.user_id {
            return Err(CallbackRefusal::Forged);
        }
        if submit.cancelled {
            return Ok(SubmitDialogResponse::default());
        }
        let asked = Asked {
            user_id: signed.user.to_string(),
            channel_id: text(&state, "channel").unwrap_or_default().to_string(),
            post_id: String::new(),
            root_id: signed.subject.to_string(),
            direct: submit.team_id.is_empty(),
        };
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
