//! What the people do during a chaos run: Org A shares channels, Org B's admins click the
//! review DMs (several at once on one request), relocate accepted channels, and post commands.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::Value;

use crate::mattermost::models::Post;
use crate::notify::REQUEST_MARKER;

use super::setup::World;

/// The chat commands the admins post (each answered by one reply in its thread).
const COMMANDS: [&str; 5] = [
    "connections",
    "help",
    "audit 3",
    "shared",
    "whois @sysadmin2",
];

/// What the people did.
#[derive(Default)]
pub struct Activity {
    /// Channels Org A shared (their ids, the same at Org B).
    pub shared: Mutex<Vec<String>>,
    pub clicks: AtomicUsize,
    /// Clicks the server answered with an error (the integration failed or was slow): the
    /// admin sees an error and may click again.
    pub clicks_failed: AtomicUsize,
    /// Clicks on one request by two or more admins at the same moment.
    pub races: AtomicUsize,
    pub relocations: AtomicUsize,
    pub commands_posted: AtomicUsize,
    /// Posts and shares refused by the server (storms): nothing was created.
    pub refused: AtomicUsize,
}

/// A review DM as an admin sees it: the request it is about and its actions.
struct Dm {
    post_id: String,
    request: String,
    /// (action id, option values) of each action.
    actions: Vec<(String, Vec<String>)>,
}

fn dms(world: &World, admin: usize) -> Vec<Dm> {
    let channel = &world.admins[admin].dm;
    world
        .b
        .posts(|p| {
            &p.channel_id == channel
                && p.user_id == world.bot_id
                && p.root_id.is_empty()
                && p.props.contains_key(REQUEST_MARKER)
        })
        .into_iter()
        .map(|p| Dm {
            post_id: p.id.clone(),
            request: p
                .props
                .get(REQUEST_MARKER)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            actions: actions(p.props.get("attachments")),
        })
        .collect()
}

fn actions(attachments: Option<&Value>) -> Vec<(String, Vec<String>)> {
    let mut found = Vec::new();
    for attachment in attachments.and_then(Value::as_array).into_iter().flatten() {
        for action in attachment
            .get("actions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let id = action.get("id").and_then(Value::as_str).unwrap_or_default();
            let options = action
                .get("options")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|o| o.get("value").and_then(Value::as_str).map(str::to_string))
                .collect();
            found.push((id.to_string(), options));
        }
    }
    found
}

impl Dm {
    fn has(&self, action: &str) -> bool {
        self.actions.iter().any(|(id, _)| id == action)
    }

    fn options(&self, action: &str) -> Vec<String> {
        self.actions
            .iter()
            .find(|(id, _)| id == action)
            .map(|(_, o)| o.clone())
            .unwrap_or_default()
    }
}

/// Org A shares a channel every 0.3 to 0.8 s until `until`.
pub async fn share(
    world: Arc<World>,
    activity: Arc<Activity>,
    seed: u64,
    until: tokio::time::Instant,
) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut n = 0;
    while tokio::time::Instant::now() < until {
        n += 1;
        match world.share(&format!("chaos-{n:04}")).await {
            Ok(id) => activity
                .shared
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(id),
            Err(_) => {
                activity.refused.fetch_add(1, Ordering::SeqCst);
            }
        }
        tokio::time::sleep(Duration::from_millis(rng.gen_range(300..800))).await;
    }
}

/// Org B's admins click until `until`: most rounds pick a pending request and have one to three
/// admins click it at the same moment (team menu, Accept or Reject, each their own copy); the
/// others move an accepted channel to another team.
pub async fn click(
    world: Arc<World>,
    activity: Arc<Activity>,
    seed: u64,
    until: tokio::time::Instant,
) {
    let mut rng = StdRng::seed_from_u64(seed);
    while tokio::time::Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(rng.gen_range(100..400))).await;
        let seen: Vec<Vec<Dm>> = (0..world.admins.len()).map(|i| dms(&world, i)).collect();
        let pending: Vec<&Dm> = seen.iter().flatten().filter(|d| d.has("accept")).collect();
        let accepted: Vec<(usize, &Dm)> = seen
            .iter()
            .enumerate()
            .flat_map(|(i, list)| list.iter().map(move |d| (i, d)))
            .filter(|(_, d)| d.has("relocate"))
            .collect();
        // Mostly decisions; now and then (or, with nothing pending, one round in three) a move.
        let decide = !pending.is_empty() && (accepted.is_empty() || rng.gen_bool(0.85));
        if !decide && (accepted.is_empty() || (pending.is_empty() && !rng.gen_bool(0.3))) {
            continue;
        }
        if decide {
            let Some(target) = pending.choose(&mut rng).map(|d| d.request.clone()) else {
                continue;
            };
            let mut who: Vec<usize> = (0..world.admins.len()).collect();
            who.shuffle(&mut rng);
            who.truncate(rng.gen_range(1..=3));
            if who.len() > 1 {
                activity.races.fetch_add(1, Ordering::SeqCst);
            }
            let mut clicks = Vec::new();
            for admin in who {
                let Some(dm) = seen[admin]
                    .iter()
                    .find(|d| d.request == target && d.has("accept"))
                else {
                    continue;
                };
                // Accept needs a team picked in the same copy first, as a person does it.
                let team = dm.options("team").choose(&mut rng).cloned();
                let plan: Vec<(&'static str, Option<String>)> = match rng.gen_range(0..100) {
                    0..=14 => vec![("team", team)],
                    15..=69 => vec![("team", team), ("accept", None)],
                    _ => vec![("reject", None)],
                };
                let client = world.admins[admin].client.clone();
                let post = dm.post_id.clone();
                clicks.push(async move {
                    let mut answered = Vec::new();
                    for (action, selected) in plan {
                        answered.push(
                            client
                                .click(&post, action, selected.as_deref())
                                .await
                                .is_ok(),
                        );
                    }
                    answered
                });
            }
            for ok in futures_util::future::join_all(clicks)
                .await
                .into_iter()
                .flatten()
            {
                activity.clicks.fetch_add(1, Ordering::SeqCst);
                if !ok {
                    activity.clicks_failed.fetch_add(1, Ordering::SeqCst);
                }
            }
        } else if let Some((admin, dm)) = accepted.choose(&mut rng) {
            let Some(team) = dm.options("relocate").choose(&mut rng).cloned() else {
                continue;
            };
            let ok = world.admins[*admin]
                .client
                .click(&dm.post_id, "relocate", Some(&team))
                .await
                .is_ok();
            activity.clicks.fetch_add(1, Ordering::SeqCst);
            activity.relocations.fetch_add(1, Ordering::SeqCst);
            if !ok {
                activity.clicks_failed.fetch_add(1, Ordering::SeqCst);
            }
        }
    }
}

/// The first two admins (members of the admin channel) post a command every 0.7 to 1.5 s.
pub async fn command(
    world: Arc<World>,
    activity: Arc<Activity>,
    seed: u64,
    until: tokio::time::Instant,
) {
    let mut rng = StdRng::seed_from_u64(seed);
    while tokio::time::Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(rng.gen_range(700..1500))).await;
        let admin = &world.admins[rng.gen_range(0..2)];
        let command = COMMANDS.choose(&mut rng).copied().unwrap_or("help");
        let post = Post {
            channel_id: world.admin_channel.clone(),
            message: format!("@sharebot {command}"),
            ..Post::default()
        };
        match admin.client.create_post(&post).await {
            Ok(_) => {
                activity.commands_posted.fetch_add(1, Ordering::SeqCst);
            }
            Err(_) => {
                activity.refused.fetch_add(1, Ordering::SeqCst);
            }
        }
    }
}
