//! Chat commands: `@sharebot …` in the admin channel (or anywhere the bot is mentioned) and
//! plain direct messages to the bot, parsed in one place, run with the review workflow's
//! context, and answered in the command's thread.
//!
//! - [`parse`]: the typed command and its grammar; [`lookup`]: finding what a command names.
//! - [`connections`], [`sharing`], [`requests`], [`audit`]: the handlers.
//! - [`share_requests`]: members' requests to share a channel, decided by the approvers.
//! - [`buttons`]: the signed buttons and the dialog commands answer with.

mod audit;
mod buttons;
mod connections;
mod lookup;
pub mod parse;
mod requests;
mod rules;
mod share_requests;
mod sharing;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::watch;

use crate::mattermost::models::{MessageAttachment, Post, PostProps};
use crate::mattermost::{self, ChannelPostsQuery, Event};
use crate::notify::{command_reply_defaults, NotifyError, TemplateError};
use crate::review::{Context, Review, ReviewError};
use crate::store::{CommandClaim, StoreError};

use self::parse::{Command, ParseError};

#[cfg(test)]
pub(crate) use self::buttons::invite_dialog;
#[cfg(test)]
pub(crate) use self::share_requests::reason_dialog;

/// What can go wrong while running a command. Each maps to one line the asker sees.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("{0}")]
    Mattermost(#[from] mattermost::Error),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Template(#[from] TemplateError),
    /// The command does not parse.
    #[error("{0}")]
    Usage(#[from] ParseError),
    /// A connection, team, channel or user the command names does not exist.
    #[error("{0}")]
    NotFound(String),
}

impl From<ReviewError> for CommandError {
    fn from(e: ReviewError) -> CommandError {
        match e {
            ReviewError::Mattermost(e) => CommandError::Mattermost(e),
            ReviewError::Store(e) => CommandError::Store(e),
            ReviewError::Template(e) => CommandError::Template(e),
            ReviewError::Refused(why) => CommandError::NotFound(why),
        }
    }
}

impl From<NotifyError> for CommandError {
    fn from(e: NotifyError) -> CommandError {
        CommandError::from(ReviewError::from(e))
    }
}

impl CommandError {
    /// The line the asker sees: never SQL, a stack trace or a secret.
    pub fn user_message(&self) -> String {
        match self {
            CommandError::Mattermost(e) => format!(
                "{} Nothing more was changed; try again in a minute.",
                e.user_message()
            ),
            CommandError::Store(e) => e.user_message().to_string(),
            CommandError::Template(_) => "a message template failed to render.".into(),
            CommandError::Usage(e) => e.message.clone(),
            CommandError::NotFound(why) => why.clone(),
        }
    }
}

/// Who asked, where, and where the answer goes.
#[derive(Debug, Clone)]
pub struct Asked {
    pub user_id: String,
    pub channel_id: String,
    /// The command's own post.
    pub post_id: String,
    /// The thread the answer goes to (the command's root, or the command itself).
    pub root_id: String,
    /// Whether the command came by direct message (no mention needed).
    pub direct: bool,
    /// The team of the channel the command was typed in (empty in a direct message): a
    /// channel name is looked up there first, as Mattermost's own `~name` is.
    pub team_id: String,
}

/// The `pending_post_id` of the answer to the command posted as `command_post_id`: the same
/// on every replica and every try.
pub fn answer_key(command_post_id: &str) -> String {
    format!("sharebot-answer-{command_post_id}")
}

/// An answer: text and attachments, threaded under the command.
#[derive(Debug, Default)]
pub struct Reply {
    pub text: String,
    pub attachments: Vec<MessageAttachment>,
}

impl Reply {
    fn text(text: String) -> Reply {
        Reply {
            text,
            ..Reply::default()
        }
    }
}

/// How far back the admin channel and the bot's DMs are read for commands the WebSocket did
/// not deliver (the server did not keep the connection): older ones are left unanswered rather
/// than run hours late.
const CATCH_UP_WINDOW: Duration = Duration::from_secs(3600);
/// The prop that marks an answer with its own id, so a retry never posts it twice.
const REPLY_MARKER: &str = "sharebot_reply";
/// The pauses before posting an answer again after the server refused it (a 5xx or a 429
/// storm passes in seconds; a command must not go unanswered for one).
const REPLY_PAUSES: [Duration; 3] = [
    Duration::from_millis(500),
    Duration::from_millis(1500),
    Duration::from_secs(3),
];

/// The chat commands; cheap to clone.
#[derive(Clone)]
pub struct Commands {
    review: Review,
    ctx: Arc<Context>,
    /// Command posts being handled in this process (an event and a catch-up may both see one).
    handling: Arc<Mutex<HashSet<String>>>,
    /// Held while a share request's posts are sent or its decision finished, so the
    /// background pass and a click never send the same post twice.
    share_lock: Arc<tokio::sync::Mutex<()>>,
}

impl Commands {
    pub fn new(review: Review) -> Commands {
        let ctx = review.context().clone();
        Commands {
            review,
            ctx,
            handling: Arc::default(),
            share_lock: Arc::default(),
        }
    }

    /// The same commands on `review` (the leader's, writing through its fenced store),
    /// sharing the marks of the posts being handled.
    pub fn with_review(&self, review: Review) -> Commands {
        Commands {
            ctx: review.context().clone(),
            review,
            handling: self.handling.clone(),
            share_lock: self.share_lock.clone(),
        }
    }

    /// Marks `post_id` as being handled here; false when it already is.
    fn start_handling(&self, post_id: &str) -> bool {
        self.handling
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(post_id.to_string())
    }

    fn done_handling(&self, post_id: &str) {
        self.handling
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(post_id);
    }

    /// Reads the admin channel and the bot's direct messages for commands no event brought (a
    /// fresh WebSocket connection after an outage the server did not wait out): each
    /// unanswered mention or DM of the last hour is handled, once.
    pub async fn catch_up(&self) {
        let since = crate::ids::now_ms() - CATCH_UP_WINDOW.as_millis() as i64;
        self.catch_up_direct(since).await;
        let channel = &self.ctx.places.admin_channel.id;
        let list = match self
            .ctx
            .client
            .channel_posts(
                channel,
                &ChannelPostsQuery {
                    since: Some(since),
                    ..ChannelPostsQuery::default()
                },
            )
            .await
        {
            Ok(list) => list,
            Err(err) => {
                tracing::warn!(
                    "cannot read the admin channel for missed commands: {}",
                    err.user_message()
                );
                return;
            }
        };
        let mention = format!("@{}", self.ctx.places.bot.username.to_lowercase());
        let mut missed: Vec<Post> = list
            .ordered()
            .into_iter()
            .filter(|p| p.create_at >= since && p.delete_at == 0)
            .filter(|p| mentions(&p.message, &mention))
            .cloned()
            .collect();
        missed.sort_by_key(|p| p.create_at);
        let bot_id = self.ctx.places.bot.id.clone();
        let team_id = self.ctx.places.admin_channel.team_id.clone();
        for post in missed {
            self.on_posted(&post, std::slice::from_ref(&bot_id), "O", &team_id)
                .await;
        }
    }

    /// Reads the bot's direct channels with posts since `since` for commands no event brought
    /// (a DM needs no mention); each is handled once, as in the admin channel.
    async fn catch_up_direct(&self, since: i64) {
        let channels = match self.ctx.client.my_channels().await {
            Ok(channels) => channels,
            Err(err) => {
                tracing::warn!(
                    "cannot list the bot's direct messages for missed commands: {}",
                    err.user_message()
                );
                return;
            }
        };
        let query = ChannelPostsQuery {
            since: Some(since),
            ..ChannelPostsQuery::default()
        };
        for channel in channels
            .iter()
            .filter(|c| c.channel_type == "D" && c.delete_at == 0 && c.last_post_at >= since)
        {
            let list = match self.ctx.client.channel_posts(&channel.id, &query).await {
                Ok(list) => list,
                Err(err) => {
                    tracing::warn!(
                        channel = %channel.id,
                        "cannot read a direct message for missed commands: {}",
                        err.user_message()
                    );
                    continue;
                }
            };
            let mut missed: Vec<Post> = list
                .ordered()
                .into_iter()
                .filter(|p| p.create_at >= since && p.delete_at == 0)
                .cloned()
                .collect();
            missed.sort_by_key(|p| p.create_at);
            for post in missed {
                // A direct message is in no team.
                self.on_posted(&post, &[], "D", "").await;
            }
        }
    }

    /// `@sharebot ` in a channel, nothing in a DM: what to type before a command.
    fn mention(&self, asked: &Asked) -> String {
        if asked.direct {
            String::new()
        } else {
            format!("@{} ", self.ctx.places.bot.username)
        }
    }

    /// Renders `command_reply.md.j2` with `reply` and `extra` over the empty defaults.
    fn say(&self, asked: &Asked, reply: &str, extra: Value) -> Result<String, CommandError> {
        let mut context = command_reply_defaults();
        context["reply"] = json!(reply);
        context["mention"] = json!(self.mention(asked));
        context["admin_channel"] = json!(self.ctx.places.admin_channel.name);
        if let (Value::Object(c), Value::Object(e)) = (&mut context, extra) {
            c.extend(e);
        }
        Ok(self.ctx.templates.render("command_reply.md.j2", &context)?)
    }

    /// A `posted` event: a command when it mentions the bot or is a DM to it.
    pub async fn on_posted(
        &self,
        post: &Post,
        mentions: &[String],
        channel_type: &str,
        team_id: &str,
    ) {
        let bot = &self.ctx.places.bot;
        if post.user_id == bot.id || !typed_by_a_person(post) {
            return;
        }
        let direct = channel_type == "D";
        if !direct && !mentions.iter().any(|m| m == &bot.id) {
            return;
        }
        tracing::debug!(post = %post.id, direct, "a command arrived");
        let asked = Asked {
            user_id: post.user_id.clone(),
            channel_id: post.channel_id.clone(),
            post_id: post.id.clone(),
            root_id: if post.root_id.is_empty() {
                post.id.clone()
            } else {
                post.root_id.clone()
            },
            direct,
            team_id: team_id.to_string(),
        };
        if !self.start_handling(&post.id) {
            return;
        }
        if self.is_from_another_organization(post).await {
            tracing::debug!(post = %post.id, "a post from another organization: not a command");
            self.done_handling(&post.id);
            return;
        }
        self.handle(post, asked).await;
        self.done_handling(&post.id);
    }

    /// Whether a post came from another organization (synced into a shared channel, or by a
    /// user synced from there): such people get no answer at all. When the author cannot be
    /// read, the post is not answered now (a later catch-up may).
    async fn is_from_another_organization(&self, post: &Post) -> bool {
        if post.remote_id.as_deref().is_some_and(|r| !r.is_empty()) {
            return true;
        }
        match self.ctx.client.get_user(&post.user_id).await {
            Ok(user) => user.remote_id.as_deref().is_some_and(|r| !r.is_empty()),
            Err(err) => {
                tracing::warn!(post = %post.id, "cannot read a command's author: {}", err.user_message());
                true
            }
        }
    }

    async fn handle(&self, post: &Post, asked: Asked) {
        let claim = match self.ctx.store.claim_command(&post.id, &post.user_id).await {
            Ok(claim) => claim,
            // Another replica leads now: the command is its to answer.
            Err(err) if err.is_fenced() => {
                tracing::info!(post = %post.id, "not answering a command: {err}");
                return;
            }
            Err(err) => {
                tracing::error!("cannot record a command: {err}");
                CommandClaim::New
            }
        };
        let reply = match claim {
            CommandClaim::Done => return,
            CommandClaim::Interrupted => self.say(&asked, "interrupted", json!({})),
            CommandClaim::New => self.answer(&asked, &post.message).await,
        };
        let reply = match reply {
            Ok(text) => Reply::text(text),
            Err(err) => Reply::text(self.failure(&asked, &err)),
        };
        // A leader paused since its claim leaves the answer to the next leader, which says
        // the command was interrupted: never two answers.
        if let Err(err) = self.ctx.store.check_fence().await {
            tracing::info!(post = %post.id, "not answering a command: {err}");
            return;
        }
        self.post_answer(&asked, reply).await;
        if let Err(err) = self.ctx.store.finish_command(&post.id).await {
            tracing::warn!("cannot mark a command handled: {err}");
        }
    }

    fn failure(&self, asked: &Asked, err: &CommandError) -> String {
        if !matches!(err, CommandError::NotFound(_) | CommandError::Usage(_)) {
            tracing::warn!(post = %asked.post_id, "a command failed: {err}");
        }
        self.say(asked, "failed", json!({"message": err.user_message()}))
            .unwrap_or_else(|_| format!("That did not work: {}", err.user_message()))
    }

    /// Parses and runs a command; the text of the answer (attachments are posted by the
    /// handlers that have them, through [`Commands::post_reply`]).
    async fn answer(&self, asked: &Asked, message: &str) -> Result<String, CommandError> {
        let bot = &self.ctx.places.bot.username;
        let command = match parse::parse(message, bot) {
            Ok(Some(command)) => command,
            Ok(None) => Command::Help { topic: None },
            Err(ParseError {
                unknown: Some((word, closest)),
                ..
            }) => {
                self.ctx.metrics.command("unknown", "unknown");
                return self.say(
                    asked,
                    "unknown_command",
                    json!({"message": word, "command": closest.unwrap_or_default()}),
                );
            }
            Err(err) => {
                let name = err.command.unwrap_or("unknown");
                self.ctx.metrics.command(name, "usage");
                let usage = err.command.and_then(parse::usage).unwrap_or_default();
                return self.say(
                    asked,
                    "error",
                    json!({"message": err.message, "usage": usage}),
                );
            }
        };
        if !parse::is_open_to_everyone(&command) {
            let admin = self.ctx.is_admin_now(&asked.user_id).await;
            if admin.is_err() {
                self.ctx.metrics.command(command.name(), "error");
            }
            if !admin? {
                self.ctx.metrics.command(command.name(), "denied");
                return self.say(asked, "not_admin", json!({"command": command.name()}));
            }
            if !asked.direct && asked.channel_id != self.ctx.places.admin_channel.id {
                self.ctx.metrics.command(command.name(), "denied");
                return self.say(asked, "wrong_place", json!({"command": command.name()}));
            }
        }
        let result = self.run(asked, command.clone()).await;
        let counted = match &result {
            Ok(_) => "ok",
            Err(CommandError::NotFound(_)) => "not_found",
            Err(_) => "error",
        };
        self.ctx.metrics.command(command.name(), counted);
        match result {
            Ok(Some(text)) => Ok(text),
            // The handler posted its own answer (with buttons or cards).
            Ok(None) => Ok(String::new()),
            Err(CommandError::NotFound(why)) => {
                let usage = parse::usage(command.name()).unwrap_or_default();
                self.say(asked, "error", json!({"message": why, "usage": usage}))
            }
            Err(err) => Ok(self.failure(asked, &err)),
        }
    }

    /// Runs a parsed command. `Some(text)` is the answer; `None` when the handler posted it.
    async fn run(&self, asked: &Asked, command: Command) -> Result<Option<String>, CommandError> {
        match command {
            Command::Help { topic } => self.help(asked, topic.as_deref()).await.map(Some),
            Command::Connect {
                name,
                display_name,
                policy,
                share,
            } => self
                .connect(asked, &name, display_name.as_deref(), &policy, &share)
                .await
                .map(Some),
            Command::AcceptInvite => self.offer_invite_dialog(asked).await.map(|()| None),
            Command::Connections => self.connections(asked).await.map(Some),
            Command::Reinvite { name } => self.reinvite(asked, &name).await.map(Some),
            Command::Policy { name, policy } => self.policy(asked, &name, &policy).await.map(Some),
            Command::Disconnect { name } => {
                self.offer_disconnect(asked, &name).await.map(|()| None)
            }
            Command::Share {
                channel,
                with,
                note,
            } => {
                // A system admin shares at once, where admin commands are taken; anyone
                // else asks the approvers.
                if !self.ctx.is_admin_now(&asked.user_id).await? {
                    return self
                        .request_share(asked, &channel, &with, note.as_deref())
                        .await;
                }
                if !asked.direct && asked.channel_id != self.ctx.places.admin_channel.id {
                    return self
                        .say(asked, "wrong_place", json!({"command": "share"}))
                        .map(Some);
                }
                self.share(asked, &channel, &with).await.map(Some)
            }
            Command::Withdraw { number } => self.withdraw(asked, number).await.map(Some),
            Command::Unshare { channel, from } => self.unshare(asked, &channel, &from).await,
            Command::Shared { name } => self.shared(asked, name.as_deref()).await.map(Some),
            Command::Pending => self.pending(asked).await,
            Command::Move { channel, team } => {
                self.move_channel(asked, &channel, &team).await.map(Some)
            }
            Command::Whois { user } => self.whois(asked, &user).await.map(Some),
            Command::Info { channel } => self.info(asked, &channel).await.map(Some),
            Command::Audit { count, filter } => self.audit(asked, count, &filter).await.map(Some),
            Command::Rules { name } => self.list_rules(asked, &name).await.map(Some),
            Command::RuleAdd(spec) => self.add_rule(asked, &spec).await.map(Some),
            Command::RuleRemove { name, n } => {
                self.reorder_rule(asked, &name, n, None).await.map(Some)
            }
            Command::RuleMove { name, from, to } => self
                .reorder_rule(asked, &name, from, Some(to))
                .await
                .map(Some),
            Command::RuleTest {
                name,
                channel,
                private,
            } => self
                .test_rule(asked, &name, &channel, private)
                .await
                .map(Some),
        }
    }

    /// Posts a message in the command's thread (nothing when it is empty): a later word on
    /// it, such as a dialog's outcome, not its answer.
    async fn post_reply(&self, asked: &Asked, reply: Reply) {
        self.send_reply(asked, reply, String::new()).await
    }

    /// Posts the command's answer in its thread (nothing when it is empty), carrying a
    /// `pending_post_id` made from the command's post: any second answer to the same command
    /// within the server's 30 s (a retry whose first try was stored, a leader paused between
    /// its last epoch check and its post while the next leader said "I was restarted") gets
    /// the first answer back instead of making a second one (`deduplicateCreatePost`, which
    /// each Mattermost node keeps for itself).
    async fn post_answer(&self, asked: &Asked, reply: Reply) {
        self.send_reply(asked, reply, answer_key(&asked.post_id))
            .await
    }

    async fn send_reply(&self, asked: &Asked, reply: Reply, pending_post_id: String) {
        if reply.text.is_empty() && reply.attachments.is_empty() {
            return;
        }
        let post = Post {
            channel_id: asked.channel_id.clone(),
            root_id: asked.root_id.clone(),
            message: reply.text,
            props: PostProps {
                attachments: reply.attachments,
                ..PostProps::default()
            },
            pending_post_id,
            ..Post::default()
        };
        // Marked, so a retry after an error can tell whether the server stored it all the same.
        let reply_id = crate::ids::new_id();
        let mut post = post;
        post.props
            .other
            .insert(REPLY_MARKER.into(), json!(reply_id.as_str()));
        for attempt in 0..=REPLY_PAUSES.len() {
            if let Some(pause) = attempt.checked_sub(1).and_then(|i| REPLY_PAUSES.get(i)) {
                tokio::time::sleep(*pause).await;
                if self.ctx.store.check_fence().await.is_err() {
                    return;
                }
                match self.reply_sent(&asked.channel_id, &reply_id).await {
                    Ok(true) => return,
                    Ok(false) => {}
                    Err(err) => {
                        tracing::warn!(post = %asked.post_id, "cannot check whether an answer was sent: {}", err.user_message());
                        continue;
                    }
                }
            }
            match self.send_with_buttons(post.clone()).await {
                Ok(_) => return,
                Err(err) => {
                    tracing::warn!(post = %asked.post_id, attempt = attempt + 1, "cannot answer a command: {}", err.user_message())
                }
            }
        }
    }

    /// Whether the answer marked `reply_id` is among the channel's latest posts.
    async fn reply_sent(&self, channel_id: &str, reply_id: &str) -> Result<bool, CommandError> {
        let list = self
            .ctx
            .client
            .channel_posts(
                channel_id,
                &ChannelPostsQuery {
                    page: Some(0),
                    per_page: Some(200),
                    ..ChannelPostsQuery::default()
                },
            )
            .await?;
        Ok(list.ordered().into_iter().any(|p| {
            p.user_id == self.ctx.places.bot.id
                && p.props.other.get(REPLY_MARKER) == Some(&json!(reply_id))
        }))
    }

    /// `help` and `help <command>`.
    async fn help(&self, asked: &Asked, topic: Option<&str>) -> Result<String, CommandError> {
        let escape = |usage: &str| usage.replace('|', "\\|");
        let context = match topic.map(|t| (t, parse::describe(t), parse::usage(t))) {
            Some((_, Some((summary, examples)), Some(usage))) => {
                let open = topic.and_then(parse::spec).is_some_and(|s| s.open);
                json!({"topic": {"usage": usage, "summary": summary, "examples": examples, "open": open},
                       "unknown": "", "commands": [], "mention": self.mention(asked)})
            }
            other => {
                let commands: Vec<Value> = parse::COMMANDS
                    .iter()
                    .filter_map(|name| {
                        let (summary, _) = parse::describe(name)?;
                        Some(
                            json!({"usage": escape(parse::usage(name)?), "summary": summary,
                                    "open": parse::spec(name).is_some_and(|s| s.open)}),
                        )
                    })
                    .collect();
                let unknown = other.map(|(t, _, _)| t).unwrap_or_default();
                json!({"topic": null, "unknown": unknown, "commands": commands, "mention": self.mention(asked)})
            }
        };
        Ok(self.ctx.templates.render("command_help.md.j2", &context)?)
    }

    /// Work beside the listener: commands missed while the bot was down are caught up once at
    /// start; shares waiting for a connection to be accepted are sent once it is, every
    /// `review.reconcile_every`, until `stop`.
    pub async fn run_background(self, mut stop: watch::Receiver<bool>) {
        // Buttons signed with a key that is no longer current are re-signed first.
        if let Err(err) = self.resign_open_posts().await {
            tracing::warn!(
                "cannot re-sign the open command buttons (tried at the next start): {err}"
            );
        }
        if let Err(err) = self.resign_share_posts().await {
            tracing::warn!(
                "cannot re-sign the open share-request buttons (tried at the next start): {err}"
            );
        }
        let mut first = true;
        loop {
            if let Err(err) = self.send_waiting_shares().await {
                tracing::warn!("cannot send waiting shares (retried later): {err}");
            }
            if let Err(err) = self.finish_share_requests().await {
                tracing::warn!("cannot finish the share requests (retried later): {err}");
            }
            if first {
                self.catch_up().await;
                first = false;
            }
            tokio::select! {
                _ = tokio::time::sleep(self.ctx.config.reconcile_every) => {}
                _ = stop.wait_for(|s| *s) => break,
            }
        }
    }

    /// Hands a `posted` event to [`Commands::on_posted`]; other events are not commands.
    pub async fn event(&self, event: &Event) {
        if let Event::Posted {
            post,
            mentions,
            channel_type,
            team_id,
            ..
        } = event
        {
            self.on_posted(post, mentions, channel_type, team_id).await;
        }
    }

    fn review(&self) -> &Review {
        &self.review
    }
}

/// Post props the server sets on what an integration posts in a person's name or its own:
/// incoming webhooks and custom slash-command responses (`from_webhook`, attributed to the
/// hook's owner or the command's user), plugins, OAuth apps, bots, the overrides integrations
/// use (`server/public/model/post.go`), and AI-generated posts.
const INTEGRATION_MARKS: &[&str] = &[
    "from_webhook",
    "from_plugin",
    "from_oauth_app",
    "from_bot",
    "override_username",
    "override_icon_url",
    "override_icon_emoji",
    "webhook_display_name",
    "ai_generated_by",
];

/// Whether a post is something a person typed: no system post (a non-empty `type`), no
/// integration mark. Only such posts are commands, whoever the server says wrote them.
fn typed_by_a_person(post: &Post) -> bool {
    post.post_type.is_empty()
        && !INTEGRATION_MARKS
            .iter()
            .any(|mark| post.props.other.contains_key(*mark))
}

/// Whether `message` mentions `@name` (lower-case) as a whole word.
fn mentions(message: &str, mention: &str) -> bool {
    let lower = message.to_lowercase();
    lower.match_indices(mention).any(|(at, _)| {
        let next = lower[at + mention.len()..].chars().next();
        !next.is_some_and(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
    })
}

#[cfg(test)]
mod tests {
    use super::{mentions, typed_by_a_person, INTEGRATION_MARKS};
    use crate::mattermost::models::Post;

    /// Every mark the server puts on an integration's post (a custom slash command's response
    /// carries `from_webhook` too, `app/command.go`) makes it no command, whatever its value.
    #[test]
    fn integration_and_system_posts_are_not_typed_by_a_person() {
        let typed = Post {
            message: "@sharebot connections".into(),
            ..Post::default()
        };
        assert!(typed_by_a_person(&typed));
        for mark in INTEGRATION_MARKS {
            for value in [
                serde_json::json!("true"),
                serde_json::json!(true),
                serde_json::json!(""),
            ] {
                let mut post = typed.clone();
                post.props.other.insert((*mark).to_string(), value);
                assert!(!typed_by_a_person(&post), "{mark}");
            }
        }
        let system = Post {
            post_type: "system_join_channel".into(),
            ..typed.clone()
        };
        assert!(!typed_by_a_person(&system));
        // The post the server writes in a channel that stops being shared with us
        // (`sharedchannel/channelunshare.go`: `system_generic`, in the connection creator's
        // name, who may be the bot's admin), even were it to mention the bot.
        let unshared = Post {
            post_type: "system_generic".into(),
            message: "This channel is no longer shared. @sharebot disconnect org-b".into(),
            ..Post::default()
        };
        assert!(!typed_by_a_person(&unshared));
    }

    /// The README's command table is the parser's usage lines, so the two cannot drift apart.
    #[test]
    fn the_readme_lists_every_command_with_its_usage() {
        let readme = include_str!("../../README.md");
        for name in super::parse::COMMANDS {
            let usage = super::parse::usage(name).unwrap_or_default();
            let row = format!("| `{}` |", usage.replace('|', "\\|"));
            assert!(readme.contains(&row), "README.md has no row {row}");
        }
    }

    #[test]
    fn a_mention_is_a_whole_word() {
        assert!(mentions("@sharebot help", "@sharebot"));
        assert!(mentions("hey @SHAREBOT: connections", "@sharebot"));
        assert!(!mentions("@sharebotter help", "@sharebot"));
        assert!(!mentions("no mention", "@sharebot"));
        assert!(mentions("@sharebot", "@sharebot"));
    }
}
