//! The bot's domain: the review workflow and the chat commands side by side, and [`start`],
//! which runs the bot with them. Events go to both, callbacks to whichever made the button or
//! dialog, and both run their background work.

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::bot::{self, BotError, RunningBot, Tuning};
use crate::clock::Clock;
use crate::commands::CommandError;
use crate::commands::Commands;
use crate::config::Config;
use crate::http::{
    AuditFuture, AuditRefusal, AuditSource, CallbackRefusal, Callbacks, DynCallbacks,
};
use crate::mattermost::models::{
    PostActionIntegrationRequest, PostActionIntegrationResponse, SubmitDialogRequest,
    SubmitDialogResponse,
};
use crate::mattermost::Event;
use crate::notify::Templates;
use crate::review::{self, Review};
use crate::watch::Watch;

/// Starts the bot with the review workflow and the chat commands: templates, database,
/// Mattermost checks, HTTP server (callbacks included), WebSocket listener, reconcile loop.
/// With `listener`, the HTTP server uses that socket instead of binding `server.listen`.
pub async fn start(
    config: &Config,
    tuning: Tuning,
    listener: Option<TcpListener>,
) -> Result<RunningBot, BotError> {
    let templates = Arc::new(Templates::load(config.templates.dir.as_deref())?);
    bot::start_with(config, tuning, listener, move |setup| {
        setup
            .metrics
            .expect_commands(crate::commands::parse::COMMANDS);
        let metrics = setup.metrics.clone();
        let context = review::Context::new(
            setup.client,
            setup.store,
            review::Places {
                bot: setup.identity.user.clone(),
                inbox_team: setup.identity.inbox_team.clone(),
                admin_channel: setup.identity.admin_channel.clone(),
            },
            setup.config.review.clone(),
            templates,
            review::Signer::new(
                setup.config.server.secret.expose(),
                setup
                    .config
                    .server
                    .previous_secret
                    .as_ref()
                    .map(|s| s.expose()),
            ),
            &setup.config.server.public_url,
            setup.tuning.notice_sync_wait,
        );
        let clock = setup.tuning.clock.clone();
        Arc::new(Sharebot::with_clock(
            Review::new(context.with_metrics(metrics)),
            clock,
        ))
    })
    .await
}

/// Review + commands + the connection watch.
#[derive(Clone)]
pub struct Sharebot {
    pub review: Review,
    pub commands: Commands,
    pub watch: Watch,
}

impl Sharebot {
    pub fn new(review: Review) -> Sharebot {
        Sharebot::with_clock(review, Clock::default())
    }

    /// With `clock` as the watch's notion of now.
    pub fn with_clock(review: Review, clock: Clock) -> Sharebot {
        let commands = Commands::new(review.clone());
        let watch = Watch::new(review.context().clone(), clock);
        Sharebot {
            review,
            commands,
            watch,
        }
    }
}

impl crate::bot::Domain for Sharebot {
    async fn event(&self, event: Event) {
        self.commands.event(&event).await;
        crate::bot::Domain::event(&self.review, event).await;
    }

    async fn reconcile(&self, reason: String) {
        crate::bot::Domain::reconcile(&self.review, reason).await;
        self.commands.catch_up().await;
    }

    fn callbacks(self: Arc<Self>) -> Option<Arc<dyn DynCallbacks>> {
        Some(self)
    }

    fn audit(self: Arc<Self>) -> Option<Arc<dyn AuditSource>> {
        Some(self)
    }

    fn background(self: Arc<Self>, stop: watch::Receiver<bool>) -> Option<JoinHandle<()>> {
        // One task for every loop, so aborting it (a kill) stops them all.
        let review = self.review.clone().run(stop.clone());
        let commands = self.commands.clone().run_background(stop.clone());
        let watch = self.watch.clone().run(stop);
        Some(tokio::spawn(async move {
            tokio::join!(review, commands, watch);
        }))
    }

    fn for_leader(self: Arc<Self>, store: crate::store::Store) -> Arc<Self> {
        let review = self.review.with_store(store);
        let commands = self.commands.with_review(review.clone());
        let watch = self.watch.with_context(review.context().clone());
        Arc::new(Sharebot {
            review,
            commands,
            watch,
        })
    }
}

impl AuditSource for Sharebot {
    fn search<'a>(&'a self, query: &'a [(String, String)]) -> AuditFuture<'a> {
        Box::pin(async move {
            self.commands
                .audit_lines(query)
                .await
                .map_err(|err| match err {
                    CommandError::Usage(e) => AuditRefusal::BadQuery(e.message),
                    CommandError::NotFound(why) => AuditRefusal::NotFound(why),
                    other => AuditRefusal::Unavailable(other.user_message()),
                })
        })
    }
}

impl Callbacks for Sharebot {
    async fn action(
        &self,
        click: PostActionIntegrationRequest,
    ) -> Result<PostActionIntegrationResponse, CallbackRefusal> {
        if Commands::owns_action(&click) {
            self.commands.action(click).await
        } else {
            self.review.action(click).await
        }
    }

    async fn dialog(
        &self,
        submit: SubmitDialogRequest,
    ) -> Result<SubmitDialogResponse, CallbackRefusal> {
        if Commands::owns_dialog(&submit) {
            self.commands.dialog(submit).await
        } else {
            self.review.dialog(submit).await
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::mattermost::models::Team;

    /// Every dialog sharebot opens, with the longest names a server allows (team display
    /// names up to 64 characters, multi-byte ones counted in bytes as the server does), keeps
    /// within the server's limits: the server opens an invalid dialog anyway and only logs it,
    /// so nothing else would tell.
    #[test]
    fn every_dialog_sharebot_opens_is_within_the_servers_limits() {
        let long = "É".repeat(64);
        let teams: Vec<Team> = (0..3)
            .map(|i| Team {
                id: format!("team{i:0>22}"),
                display_name: long.clone(),
                ..Team::default()
            })
            .collect();
        let state = r#"{"request":"x","sig":"y"}"#.to_string();
        let dialogs = [
            crate::review::team_dialog("intro".into(), &teams, Some(&teams[1].id), state.clone()),
            crate::review::team_dialog(
                "intro".into(),
                &teams,
                Some("a-deleted-team"),
                state.clone(),
            ),
            crate::review::team_dialog("intro".into(), &teams, None, state.clone()),
            crate::review::team_dialog("intro".into(), &[], None, state.clone()),
            crate::review::reject_dialog("intro".into(), state.clone()),
            crate::commands::invite_dialog(&teams, &long, state.clone()),
            crate::commands::invite_dialog(&[], "", state.clone()),
            crate::commands::reason_dialog(
                &crate::store::ShareRequest {
                    id: "r".into(),
                    number: i64::MAX,
                    channel_id: "c".into(),
                    channel_name: "x".repeat(64),
                    remote_id: "o".into(),
                    org_name: long.clone(),
                    asked_by: "u".into(),
                    asked_in: "d".into(),
                    asked_root: "p".into(),
                    note: String::new(),
                    state: crate::store::ShareState::Pending,
                    decided_by: None,
                    decided_at: None,
                    reason: String::new(),
                    applied: String::new(),
                    fanned_out: false,
                    finished_at: None,
                    created_at: 0,
                },
                state,
            ),
        ];
        for dialog in &dialogs {
            assert_eq!(
                dialog.problems(),
                Vec::<String>::new(),
                "{:?}",
                dialog.title
            );
        }
    }
}
