//! The sandbox's in-memory data (users, sessions, teams, channels, members, posts, connections
//! and shared channels) and the lookups and permission rules the handlers share.

use std::collections::{BTreeMap, HashMap};

use sha2::{Digest, Sha256};

use super::model::config::ServerConfig;
use super::model::records::{RemoteCluster, SharedChannel, SharedChannelRemote};
use super::model::webhook::IncomingWebhook;
use super::model::{Channel, ChannelMember, Post, Reaction, Team, TeamMember, User};
use super::seed::Seed;
use crate::ids::{new_id, now_ms};

/// A stored user: the public record plus its salted password hash.
#[derive(Clone, Debug)]
pub(crate) struct UserRecord {
    pub user: User,
    salt: String,
    password_hash: String,
}

impl UserRecord {
    fn password_matches(&self, password: &str) -> bool {
        !self.password_hash.is_empty() && hash_password(&self.salt, password) == self.password_hash
    }
}

fn hash_password(salt: &str, password: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(salt.as_bytes());
    hasher.update(b":");
    hasher.update(password.as_bytes());
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// All the data of one sandbox instance.
#[derive(Default)]
pub(crate) struct Db {
    pub users: HashMap<String, UserRecord>,
    /// Session and access tokens → user id.
    pub sessions: HashMap<String, String>,
    pub teams: HashMap<String, Team>,
    /// Keyed by (team id, user id).
    pub team_members: BTreeMap<(String, String), TeamMember>,
    pub channels: HashMap<String, Channel>,
    /// Keyed by (channel id, user id).
    pub channel_members: BTreeMap<(String, String), ChannelMember>,
    pub posts: HashMap<String, Post>,
    /// Ephemeral posts by id: never listed, kept so their actions can be clicked.
    pub ephemeral_posts: HashMap<String, Post>,
    /// Secure connections by remote id (soft-deleted ones kept, as the server does).
    pub remote_clusters: HashMap<String, RemoteCluster>,
    /// Shared channels by channel id.
    pub shared_channels: HashMap<String, SharedChannel>,
    /// Links of shared channels to connections, by their own id (soft-deleted ones kept).
    pub shared_channel_remotes: HashMap<String, SharedChannelRemote>,
    /// Keyed by (post id, user id, emoji name); a removed reaction stays with `delete_at` set,
    /// as the server's rows do (shared-channel sync reads removals from them).
    pub reactions: BTreeMap<(String, String, String), Reaction>,
    /// The order reactions were first stored in, by the same key: the server sorts a post's
    /// reactions by `create_at` alone, and rows with equal times come back in the order the
    /// database stored them, which this keeps (a revived reaction keeps its place).
    pub reaction_order: HashMap<(String, String, String), u64>,
    /// The server configuration (`GET /config`, `PUT /config/patch`).
    pub config: ServerConfig,
    /// Incoming webhooks by id.
    pub incoming_webhooks: HashMap<String, IncomingWebhook>,
    /// How far this server's clock is ahead of the machine's (negative: behind), in
    /// milliseconds: post times and sync cursors are read from this clock, not the bot's.
    pub clock_offset_ms: i64,
    /// `pending_post_id` → (the post created with it, when the entry runs out): the server's
    /// `seenPendingPostIdsCache` (see `api/posts.rs`).
    pub seen_pending_post_ids: HashMap<String, (String, std::time::Instant)>,
}

/// The name of the direct channel between two users, as the server builds it (ids sorted).
pub(crate) fn direct_channel_name(a: &str, b: &str) -> String {
    if a < b {
        format!("{a}__{b}")
    } else {
        format!("{b}__{a}")
    }
}

impl Db {
    /// Builds the data of a seed; the first bot gets `bot_token`.
    pub fn from_seed(seed: &Seed, bot_token: &str) -> Db {
        let mut db = Db::default();
        if let Some(config) = seed.config_patch() {
            // `Seed::check` has tried this patch already.
            db.config = db.config.patched(&config).unwrap_or_default();
        }
        let now = now_ms();
        for seed_team in &seed.teams {
            let display = seed_team
                .display_name
                .clone()
                .unwrap_or_else(|| seed_team.name.clone());
            db.insert_team(&seed_team.name, &display, seed_team.invite_only, now);
        }
        let mut bot_token = Some(bot_token.to_string());
        for seed_user in &seed.users {
            let salt = new_id();
            let password_hash = seed_user
                .password
                .as_deref()
                .filter(|_| !seed_user.bot)
                .map(|p| hash_password(&salt, p))
                .unwrap_or_default();
            let mut user = User {
                id: new_id(),
                create_at: now,
                update_at: now,
                username: seed_user.username.clone(),
                email: seed_user
                    .email
                    .clone()
                    .unwrap_or_else(|| format!("{}@sandbox.test", seed_user.username)),
                email_verified: true,
                roles: seed_user
                    .roles
                    .clone()
                    .unwrap_or_else(|| "system_user".into()),
                locale: "en".into(),
                timezone: [
                    ("automaticTimezone", ""),
                    ("manualTimezone", ""),
                    ("useAutomaticTimezone", "true"),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
                notify_props: [
                    ("channel", "true"),
                    ("comments", "never"),
                    ("desktop", "mention"),
                    ("desktop_sound", "true"),
                    ("email", "true"),
                    ("first_name", "false"),
                    ("mention_keys", ""),
                    ("push", "mention"),
                    ("push_status", "away"),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
                last_password_update: now,
                ..User::default()
            };
            if seed_user.deactivated {
                user.delete_at = now;
            }
            if let (false, Some(full)) = (seed_user.bot, &seed_user.display_name) {
                // A person's display name is their full name: first word, then the rest.
                let (first, last) = full.trim().split_once(' ').unwrap_or((full.trim(), ""));
                user.first_name = first.to_string();
                user.last_name = last.trim().to_string();
            }
            if seed_user.bot {
                user.is_bot = true;
                user.first_name = seed_user.display_name.clone().unwrap_or_default();
                user.bot_description = seed_user.description.clone().unwrap_or_default();
                user.last_password_update = 0;
                if let Some(token) = bot_token.take() {
                    db.sessions.insert(token, user.id.clone());
                }
            }
            if let Some(token) = &seed_user.token {
                db.sessions.insert(token.clone(), user.id.clone());
            }
            let user_id = user.id.clone();
            db.users.insert(
                user_id.clone(),
                UserRecord {
                    user,
                    salt,
                    password_hash,
                },
            );
            for team_name in &seed_user.teams {
                if let Some(team_id) = db.team_by_name(team_name).map(|t| t.id.clone()) {
                    db.join_team(&team_id, &user_id, now);
                }
            }
        }
        for seed_channel in &seed.channels {
            let Some(team_id) = db.team_by_name(&seed_channel.team).map(|t| t.id.clone()) else {
                continue;
            };
            let members: Vec<String> = seed_channel
                .members
                .iter()
                .filter_map(|name| db.user_by_username(name).map(|u| u.id.clone()))
                .collect();
            let creator = members.first().cloned().unwrap_or_default();
            let channel_id = db.insert_channel(
                &team_id,
                if seed_channel.private { "P" } else { "O" },
                &seed_channel.name,
                seed_channel
                    .display_name
                    .as_deref()
                    .unwrap_or(&seed_channel.name),
                &creator,
                now,
            );
            for (i, member) in members.iter().enumerate() {
                db.add_channel_member(&channel_id, member, i == 0, now);
            }
        }
        db
    }

    /// Stores a user synced from another server (it cannot log in: no password).
    pub fn insert_remote_user(&mut self, user: User) {
        self.users.insert(
            user.id.clone(),
            UserRecord {
                user,
                salt: String::new(),
                password_hash: String::new(),
            },
        );
    }

    /// Creates a channel row and returns its id.
    pub fn insert_channel(
        &mut self,
        team_id: &str,
        channel_type: &str,
        name: &str,
        display_name: &str,
        creator_id: &str,
        now: i64,
    ) -> String {
        let channel = Channel {
            id: new_id(),
            create_at: now,
            update_at: now,
            team_id: team_id.into(),
            channel_type: channel_type.into(),
            display_name: display_name.into(),
            name: name.into(),
            creator_id: creator_id.into(),
            last_post_at: now,
            last_root_post_at: now,
            props: None,
            group_constrained: None,
            shared: Some(false),
            ..Channel::default()
        };
        let id = channel.id.clone();
        self.channels.insert(id.clone(), channel);
        id
    }

    /// Creates a team with its default channels (`town-square`, `off-topic`); returns its id.
    pub fn insert_team(
        &mut self,
        name: &str,
        display_name: &str,
        invite_only: bool,
        now: i64,
    ) -> String {
        let team = Team {
            id: new_id(),
            create_at: now,
            update_at: now,
            display_name: display_name.to_string(),
            name: name.to_string(),
            email: format!("{name}@sandbox.test"),
            team_type: if invite_only { "I" } else { "O" }.into(),
            invite_id: new_id(),
            allow_open_invite: !invite_only,
            ..Team::default()
        };
        let team_id = team.id.clone();
        self.teams.insert(team_id.clone(), team);
        for (channel, display) in [("town-square", "Town Square"), ("off-topic", "Off-Topic")] {
            self.insert_channel(&team_id, "O", channel, display, "", now);
        }
        team_id
    }

    /// Adds a team member (and joins the team's default channels); returns the member.
    pub fn join_team(&mut self, team_id: &str, user_id: &str, now: i64) -> TeamMember {
        let key = (team_id.to_string(), user_id.to_string());
        if let Some(member) = self.team_members.get(&key) {
            if member.delete_at == 0 {
                return member.clone();
            }
        }
        let member = TeamMember {
            team_id: team_id.into(),
            user_id: user_id.into(),
            roles: "team_user".into(),
            scheme_user: true,
            create_at: now,
            ..TeamMember::default()
        };
        self.team_members.insert(key, member.clone());
        for name in ["town-square", "off-topic"] {
            if let Some(id) = self.channel_by_name(team_id, name).map(|c| c.id.clone()) {
                self.add_channel_member(&id, user_id, false, now);
            }
        }
        member
    }

    /// Adds a channel member unless already one; returns the member and whether it is new.
    pub fn add_channel_member(
        &mut self,
        channel_id: &str,
        user_id: &str,
        admin: bool,
        now: i64,
    ) -> (ChannelMember, bool) {
        let key = (channel_id.to_string(), user_id.to_string());
        if let Some(member) = self.channel_members.get(&key) {
            return (member.clone(), false);
        }
        let member = ChannelMember::new(channel_id, user_id, admin, now);
        self.channel_members.insert(key, member.clone());
        (member, true)
    }

    /// The creation time of a new post in a channel: now, but strictly after the channel's
    /// last post, so a channel's posts have a stable newest-first order.
    pub fn next_post_time(&self, channel_id: &str) -> i64 {
        let last = self.channels.get(channel_id).map_or(0, |c| c.last_post_at);
        self.now().max(last + 1)
    }

    /// The time on this server's clock (the machine's, moved by `clock_offset_ms`).
    pub fn now(&self) -> i64 {
        now_ms() + self.clock_offset_ms
    }

    /// Stores a new post and records its time on its channel.
    pub fn save_post(&mut self, post: &Post) {
        self.posts.insert(post.id.clone(), post.clone());
        self.touch_channel(&post.channel_id, post.create_at, post.root_id.is_empty());
    }

    /// Records a new post's time on its channel.
    pub fn touch_channel(&mut self, channel_id: &str, at: i64, root: bool) {
        if let Some(channel) = self.channels.get_mut(channel_id) {
            channel.last_post_at = at;
            channel.total_msg_count += 1;
            if root {
                channel.last_root_post_at = at;
                channel.total_msg_count_root += 1;
            }
        }
    }

    pub fn user(&self, id: &str) -> Option<&User> {
        self.users.get(id).map(|r| &r.user)
    }

    pub fn user_by_username(&self, username: &str) -> Option<&User> {
        let username = username.to_lowercase();
        self.users
            .values()
            .map(|r| &r.user)
            .find(|u| u.username == username)
    }

    /// The user a login id (username or email) and password designate.
    pub fn login(&self, login_id: &str, password: &str) -> Option<&User> {
        let login_id = login_id.to_lowercase();
        self.users
            .values()
            .find(|r| {
                (r.user.username == login_id || r.user.email.to_lowercase() == login_id)
                    && r.user.delete_at == 0
                    && !r.user.is_bot
            })
            .filter(|r| r.password_matches(password))
            .map(|r| &r.user)
    }

    /// The user a session or access token belongs to.
    pub fn user_by_token(&self, token: &str) -> Option<&User> {
        self.sessions
            .get(token)
            .and_then(|id| self.user(id))
            .filter(|u| u.delete_at == 0)
    }

    pub fn team_by_name(&self, name: &str) -> Option<&Team> {
        self.teams.values().find(|t| t.name == name)
    }

    pub fn channel_by_name(&self, team_id: &str, name: &str) -> Option<&Channel> {
        self.channels
            .values()
            .find(|c| c.team_id == team_id && c.name == name)
    }

    pub fn is_team_member(&self, team_id: &str, user_id: &str) -> bool {
        self.team_members
            .get(&(team_id.to_string(), user_id.to_string()))
            .is_some_and(|m| m.delete_at == 0)
    }

    pub fn is_channel_member(&self, channel_id: &str, user_id: &str) -> bool {
        self.channel_members
            .contains_key(&(channel_id.to_string(), user_id.to_string()))
    }

    /// Ids of a channel's members.
    pub fn channel_member_ids(&self, channel_id: &str) -> Vec<String> {
        self.channel_members
            .range((channel_id.to_string(), String::new())..)
            .take_while(|((c, _), _)| c == channel_id)
            .map(|((_, u), _)| u.clone())
            .collect()
    }

    /// `read_channel` on this channel: members, system admins, and team members for public channels.
    pub fn can_read_channel(&self, user: &User, channel: &Channel) -> bool {
        user.is_system_admin()
            || self.is_channel_member(&channel.id, &user.id)
            || (channel.channel_type == "O" && self.is_team_member(&channel.team_id, &user.id))
    }

    /// `create_post` in this channel: members and system admins.
    pub fn can_post(&self, user: &User, channel: &Channel) -> bool {
        user.is_system_admin() || self.is_channel_member(&channel.id, &user.id)
    }

    /// `view_team`: team members and system admins (never for an empty team id).
    pub fn can_view_team(&self, user: &User, team_id: &str) -> bool {
        !team_id.is_empty() && (user.is_system_admin() || self.is_team_member(team_id, &user.id))
    }

    /// A connection by id; soft-deleted ones only with `include_deleted`.
    pub fn remote(&self, remote_id: &str, include_deleted: bool) -> Option<&RemoteCluster> {
        self.remote_clusters
            .get(remote_id)
            .filter(|rc| include_deleted || rc.delete_at == 0)
    }

    /// The link of a channel to a connection, deleted or not.
    pub fn channel_remote_any(
        &self,
        channel_id: &str,
        remote_id: &str,
    ) -> Option<&SharedChannelRemote> {
        self.shared_channel_remotes
            .values()
            .find(|scr| scr.channel_id == channel_id && scr.remote_id == remote_id)
    }

    /// The live link of a channel to a connection (`HasRemote`).
    pub fn channel_remote(
        &self,
        channel_id: &str,
        remote_id: &str,
    ) -> Option<&SharedChannelRemote> {
        self.channel_remote_any(channel_id, remote_id)
            .filter(|scr| scr.delete_at == 0)
    }

    /// Live links of a channel, oldest first.
    pub fn channel_remotes(&self, channel_id: &str) -> Vec<SharedChannelRemote> {
        let mut list: Vec<SharedChannelRemote> = self
            .shared_channel_remotes
            .values()
            .filter(|scr| scr.channel_id == channel_id && scr.delete_at == 0)
            .cloned()
            .collect();
        list.sort_by(|a, b| a.create_at.cmp(&b.create_at).then(a.id.cmp(&b.id)));
        list
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direct_names_sort_the_two_ids() {
        assert_eq!(direct_channel_name("bbb", "aaa"), "aaa__bbb");
        assert_eq!(direct_channel_name("aaa", "bbb"), "aaa__bbb");
    }

    #[test]
    fn the_default_seed_builds_the_expected_memberships() {
        let db = Db::from_seed(&Seed::default(), "tok");
        let bot = db.user_by_token("tok").unwrap();
        assert!(bot.is_bot && bot.is_system_admin());
        let user = db.user_by_username("user-1").unwrap().clone();
        let eng = db.team_by_name("engineering").unwrap().id.clone();
        let inbox = db.team_by_name("shared-inbox").unwrap().clone();
        assert_eq!(inbox.team_type, "I");
        assert!(db.is_team_member(&eng, &user.id));
        assert!(!db.is_team_member(&inbox.id, &user.id));
        let admins = db.channel_by_name(&eng, "admins").unwrap().clone();
        assert_eq!(db.channel_member_ids(&admins.id).len(), 3);
        assert!(!db.can_read_channel(&user, &admins));
        let town = db.channel_by_name(&eng, "town-square").unwrap();
        assert!(db.is_channel_member(&town.id, &user.id));
        assert!(db.login("sysadmin", "Sys@dmin-sample1").is_some());
        assert!(db.login("sysadmin", "wrong").is_none());
        assert!(db.login("sharebot", "").is_none());
    }
}
