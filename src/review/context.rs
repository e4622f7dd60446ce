//! What every part of the review workflow shares: the one Mattermost client, the store, the
//! bot's identity and places, the configuration, the templates, and short-lived caches of
//! who may decide (holds a role of `review.approvers`).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::config::ReviewConfig;
use crate::mattermost::models::{Channel, RemoteCluster, Team, User};
use crate::mattermost::Client;
use crate::metrics::Metrics;
use crate::notify::{Poster, Templates};
use crate::store::Store;

use super::signing::Signer;
use super::ReviewError;

/// How long a "this user is a system admin" answer is trusted.
pub const ADMIN_CHECK_TTL: Duration = Duration::from_secs(3);

/// From this age on, a click answered from the admin check has it refreshed in the
/// background, so a steady clicker never finds it run out and never waits on a lookup.
pub const ADMIN_CHECK_REFRESH_AHEAD: Duration = Duration::from_secs(2);

/// How often a reconcile re-reads the team list when no event asked for it.
pub const LISTS_EVERY: Duration = Duration::from_secs(300);

/// The bot's identity and places, learned at start-up.
#[derive(Debug, Clone)]
pub struct Places {
    pub bot: User,
    pub inbox_team: Team,
    pub admin_channel: Channel,
}

/// The shared context of the review workflow.
pub struct Context {
    pub client: Client,
    pub store: Store,
    pub places: Places,
    pub config: ReviewConfig,
    pub templates: Arc<Templates>,
    pub signer: Signer,
    pub poster: Poster,
    /// Where Mattermost sends clicks and dialog submissions (`{public_url}/mattermost/…`).
    pub actions_url: String,
    pub dialogs_url: String,
    /// How long a reject waits for its notice to reach the other organization.
    pub notice_sync_wait: Duration,
    /// Where decisions, DMs and reconcile passes are counted (see [`Context::with_metrics`]).
    pub metrics: Metrics,
    /// The active, human system admins at the last refresh.
    admins: Mutex<Vec<User>>,
    /// user id → (is an active system admin, checked at).
    admin_checks: Arc<Mutex<HashMap<String, (bool, Instant)>>>,
    /// Users whose admin check is being refreshed in the background (one lookup each).
    admin_refreshing: Arc<Mutex<HashSet<String>>>,
    /// user id → username, for "decided by @who".
    usernames: Mutex<HashMap<String, String>>,
    /// The destination teams at the last reconcile, so a click is answered without a call.
    teams: Mutex<Vec<Team>>,
    /// When the team list was last read by a reconcile.
    lists_read_at: Mutex<Option<Instant>>,
    /// The secure connections at the last reconcile, so an arriving channel is served at once.
    remotes: Mutex<Vec<RemoteCluster>>,
    /// Each team's admins, for the DMs of requests for that team (`review.team_admins`).
    pub(super) team_admin_lists: super::team_admins::TeamAdminLists,
}

impl Context {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        client: Client,
        store: Store,
        places: Places,
        config: ReviewConfig,
        templates: Arc<Templates>,
        signer: Signer,
        public_url: &str,
        notice_sync_wait: Duration,
    ) -> Context {
        let base = public_url.trim_end_matches('/');
        let poster = Poster::new(
            client.clone(),
            store.clone(),
            places.bot.id.clone(),
            signer.key_id().to_string(),
        );
        Context {
            client,
            store,
            places,
            config,
            templates,
            signer,
            poster,
            actions_url: format!("{base}/mattermost/actions"),
            dialogs_url: format!("{base}/mattermost/dialogs"),
            notice_sync_wait,
            metrics: Metrics::new(),
            admins: Mutex::default(),
            admin_checks: Arc::default(),
            admin_refreshing: Arc::default(),
            usernames: Mutex::default(),
            teams: Mutex::default(),
            lists_read_at: Mutex::default(),
            remotes: Mutex::default(),
            team_admin_lists: Default::default(),
        }
    }

    /// The context counting into `metrics` (the bot's, served at `/metrics`).
    pub fn with_metrics(mut self, metrics: Metrics) -> Context {
        self.metrics = metrics;
        self
    }

    /// The admins, teams and connections as the last reconcile read them; `None` before the
    /// first one.
    pub fn last_read(&self) -> Option<(Vec<User>, Vec<Team>, Vec<RemoteCluster>)> {
        let admins = lock(&self.admins).clone();
        let teams = lock(&self.teams).clone();
        let remotes = lock(&self.remotes).clone();
        (!admins.is_empty()).then_some((admins, teams, remotes))
    }

    /// Remembers the connections a reconcile read.
    pub fn remember_remotes(&self, remotes: &[RemoteCluster]) {
        *lock(&self.remotes) = remotes.to_vec();
    }

    /// The admins and the destination teams for a reconcile. The admins are read every time:
    /// the server tells no one but the user of a role change (`user_role_updated` goes to that
    /// user only, `UpdateUserRoles` in `server/channels/app/user.go`), so a new admin is found
    /// only by reading the list. The teams are re-read when `now`, when never read, or when
    /// older than [`LISTS_EVERY`]; else as last read.
    pub async fn admins_and_teams(&self, now: bool) -> Result<(Vec<User>, Vec<Team>), ReviewError> {
        let fresh = lock(&self.lists_read_at).is_some_and(|at| at.elapsed() < LISTS_EVERY);
        if fresh && !now {
            return Ok((self.refresh_admins().await?, lock(&self.teams).clone()));
        }
        let (admins, teams) = tokio::join!(self.refresh_admins(), self.refresh_teams());
        let (admins, teams) = (admins?, teams?);
        *lock(&self.lists_read_at) = Some(Instant::now());
        Ok((admins, teams))
    }

    /// Re-reads the approvers (active humans holding a role of `review.approvers`, each
    /// once) and returns them.
    pub async fn refresh_admins(&self) -> Result<Vec<User>, ReviewError> {
        let roles = &self.config.approvers;
        let lists =
            futures_util::future::join_all(roles.iter().map(|r| self.client.users_in_role(r)))
                .await;
        let mut admins: Vec<User> = Vec::new();
        for user in lists
            .into_iter()
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .flatten()
        {
            if approves(&user, roles) && !admins.iter().any(|a| a.id == user.id) {
                admins.push(user);
            }
        }
        let now = Instant::now();
        {
            let mut checks = lock(&self.admin_checks);
            checks.retain(|_, (_, at)| now.duration_since(*at) < ADMIN_CHECK_TTL);
            // Someone who left the roster loses the right to decide now, not when a cached
            // "yes" runs out.
            for (id, check) in checks.iter_mut() {
                if check.0 && !admins.iter().any(|a| &a.id == id) {
                    *check = (false, now);
                }
            }
            let mut names = lock(&self.usernames);
            for a in &admins {
                names.insert(a.id.clone(), a.username.clone());
            }
        }
        *lock(&self.admins) = admins.clone();
        Ok(admins)
    }

    /// Whether `user_id` is an approver now (an active human holding a role of
    /// `review.approvers`): asked of the server, the answer trusted for [`ADMIN_CHECK_TTL`]
    /// at most.
    pub async fn is_admin_now(&self, user_id: &str) -> Result<bool, ReviewError> {
        if let Some((yes, at)) = lock(&self.admin_checks).get(user_id).copied() {
            let age = at.elapsed();
            if age < ADMIN_CHECK_TTL {
                if age >= ADMIN_CHECK_REFRESH_AHEAD {
                    self.refresh_admin_check(user_id);
                }
                return Ok(yes);
            }
        }
        let asked = Instant::now();
        let user = match self.client.get_user(user_id).await {
            Ok(user) => user,
            Err(e) if e.is_not_found() || e.status() == Some(400) => {
                record_check(&self.admin_checks, user_id, false, asked);
                return Ok(false);
            }
            Err(e) => return Err(e.into()),
        };
        let yes = approves(&user, &self.config.approvers);
        lock(&self.usernames).insert(user.id.clone(), user.username.clone());
        record_check(&self.admin_checks, user_id, yes, asked);
        Ok(yes)
    }

    /// Looks `user_id` up again behind the answer, once at a time per user; a failed lookup
    /// leaves the check to run out (the next click then looks up inline).
    fn refresh_admin_check(&self, user_id: &str) {
        if !lock(&self.admin_refreshing).insert(user_id.to_string()) {
            return;
        }
        let (client, checks, refreshing, user_id, roles) = (
            self.client.clone(),
            self.admin_checks.clone(),
            self.admin_refreshing.clone(),
            user_id.to_string(),
            self.config.approvers.clone(),
        );
        tokio::spawn(async move {
            let asked = Instant::now();
            match client.get_user(&user_id).await {
                Ok(user) => {
                    let yes = approves(&user, &roles);
                    record_check(&checks, &user_id, yes, asked);
                }
                Err(e) if e.is_not_found() || e.status() == Some(400) => {
                    record_check(&checks, &user_id, false, asked);
                }
                Err(e) => {
                    tracing::debug!(
                        user_id,
                        "cannot refresh the admin check: {}",
                        e.user_message()
                    )
                }
            }
            lock(&refreshing).remove(&user_id);
        });
    }

    /// Whether `user_id` was on the approver list at the last refresh.
    pub fn listed_approver(&self, user_id: &str) -> bool {
        lock(&self.admins).iter().any(|a| a.id == user_id)
    }

    /// Who may decide, in words: "system admins", "Shared Channel Managers", or both.
    pub fn approvers_phrase(&self) -> String {
        let names: Vec<&str> = self
            .config
            .approvers
            .iter()
            .map(|r| match r.as_str() {
                "system_admin" => "system admins",
                "system_shared_channel_manager" => "Shared Channel Managers",
                other => other,
            })
            .collect();
        names.join(" and ")
    }

    /// `@username` of a user id (`sharebot` for the bot's own decisions).
    pub async fn username(&self, user_id: &str) -> String {
        if user_id == self.places.bot.id || user_id == super::BOT_ACTOR {
            return self.places.bot.username.clone();
        }
        if let Some(name) = lock(&self.usernames).get(user_id) {
            return name.clone();
        }
        match self.client.get_user(user_id).await {
            Ok(u) => {
                lock(&self.usernames).insert(u.id.clone(), u.username.clone());
                u.username
            }
            Err(_) => user_id.to_string(),
        }
    }

    /// The teams a channel can be placed in, as read at the last reconcile (read now when
    /// none has run yet).
    pub async fn teams(&self) -> Result<Vec<Team>, ReviewError> {
        let cached = lock(&self.teams).clone();
        if cached.is_empty() {
            return self.refresh_teams().await;
        }
        Ok(cached)
    }

    /// Re-reads the teams a channel can be placed in: every live team but the inbox, by
    /// display name.
    pub async fn refresh_teams(&self) -> Result<Vec<Team>, ReviewError> {
        let mut teams: Vec<Team> = self
            .client
            .teams()
            .await?
            .into_iter()
            .filter(|t| t.delete_at == 0 && t.id != self.places.inbox_team.id)
            .collect();
        teams.sort_by(|a, b| a.display_name.cmp(&b.display_name));
        *lock(&self.teams) = teams.clone();
        Ok(teams)
    }
}

/// Whether `user` may decide: an active human holding one of the approver `roles`.
pub fn approves(user: &User, roles: &[String]) -> bool {
    user.is_active() && !user.is_bot && roles.iter().any(|r| user.has_role(r))
}

/// The team `id` among `teams`.
pub fn find_team<'a>(teams: &'a [Team], id: Option<&str>) -> Option<&'a Team> {
    id.and_then(|id| teams.iter().find(|t| t.id == id))
}

/// The display name of team `id` among `teams`, or empty.
pub fn team_name(teams: &[Team], id: Option<&str>) -> String {
    find_team(teams, id)
        .map(|t| t.display_name.clone())
        .unwrap_or_default()
}

/// Records an admin check as of `asked` (when the lookup was sent, so its age never
/// understates how stale it is), unless a newer one is there already (a roster refresh that
/// revoked it meanwhile wins).
fn record_check(
    checks: &Mutex<HashMap<String, (bool, Instant)>>,
    user_id: &str,
    yes: bool,
    asked: Instant,
) {
    let mut checks = lock(checks);
    if checks.get(user_id).is_none_or(|(_, at)| *at <= asked) {
        checks.insert(user_id.to_string(), (yes, asked));
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
