//! The replicas: `sharebot run` processes started, killed (`kill -9`), stalled (SIGSTOP /
//! SIGCONT) and restarted, and a watcher that polls each one's `/readyz` for its role.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

/// How often the watcher asks every replica's `/readyz`.
pub const POLL_EVERY: Duration = Duration::from_millis(50);

/// What a replica is doing, as the chaos driver left it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Life {
    Running,
    /// Killed; restarted later.
    Down,
    /// SIGSTOP'ed; continued later.
    Stopped,
}

/// What the last `/readyz` poll of a replica said.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seen {
    /// Answered 200.
    pub ready: bool,
    /// The role in the body (`leader`, `follower`), when it says one.
    pub role: Option<String>,
}

struct Replica {
    port: u16,
    child: Option<Child>,
    life: Life,
    /// How many times it was started: a leader restarted is another incarnation.
    incarnation: u32,
    seen: Seen,
}

/// The replicas of one run and what was seen of them.
#[derive(Clone)]
pub struct Replicas {
    inner: Arc<Mutex<Inner>>,
    exe: PathBuf,
    env: Arc<HashMap<String, String>>,
    logs: PathBuf,
    /// This build has `ha.name`: each replica is named `replica-<n>` in its log and `/readyz`.
    named: bool,
}

struct Inner {
    replicas: Vec<Replica>,
    /// The leader as last seen (replica, incarnation), and leadership changes so far.
    leader: Option<(usize, u32)>,
    changes: u32,
    first_leader: Option<Instant>,
    leaderless_since: Option<Instant>,
    longest_gap: Duration,
    /// Polls in which two replicas said `leader` at once.
    overlaps: u32,
    /// Any replica said a role at all (a build without roles never does).
    roles_seen: bool,
}

/// What the watcher saw over the run.
#[derive(Debug, Clone, Default)]
pub struct Watched {
    pub changes: u32,
    pub longest_gap: Duration,
    pub overlaps: u32,
    pub roles_seen: bool,
}

impl Replicas {
    /// `count` replicas of `exe run`, each with `env` plus its own `SHAREBOT_SERVER__LISTEN`,
    /// logging into `logs`; none started yet.
    pub fn new(
        exe: PathBuf,
        env: HashMap<String, String>,
        count: usize,
        logs: &Path,
    ) -> Result<Replicas, String> {
        let mut replicas = Vec::new();
        for _ in 0..count {
            // A free port now; each replica keeps its port across restarts, as a host would.
            let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
            let port = listener.local_addr().map_err(|e| e.to_string())?.port();
            replicas.push(Replica {
                port,
                child: None,
                life: Life::Down,
                incarnation: 0,
                seen: Seen::default(),
            });
        }
        Ok(Replicas {
            inner: Arc::new(Mutex::new(Inner {
                replicas,
                leader: None,
                changes: 0,
                first_leader: None,
                leaderless_since: None,
                longest_gap: Duration::ZERO,
                overlaps: 0,
                roles_seen: false,
            })),
            exe,
            env: Arc::new(env),
            logs: logs.to_path_buf(),
            named: crate::config::KEYS
                .iter()
                .any(|k| k.section == "ha" && k.key == "name"),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn count(&self) -> usize {
        self.lock().replicas.len()
    }

    /// Sets one more variable for every later start.
    pub fn set_env(&mut self, name: &str, value: &str) {
        Arc::make_mut(&mut self.env).insert(name.into(), value.into());
    }

    /// Each replica's base URL, for the load balancer.
    pub fn urls(&self) -> Vec<String> {
        self.lock()
            .replicas
            .iter()
            .map(|r| format!("http://127.0.0.1:{}", r.port))
            .collect()
    }

    /// Starts replica `i` (again).
    pub fn start(&self, i: usize) -> Result<(), String> {
        let mut inner = self.lock();
        let replica = inner.replicas.get_mut(i).ok_or("no such replica")?;
        replica.incarnation += 1;
        let log = self.logs.join(format!("replica-{}.log", i + 1));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .map_err(|e| format!("cannot open {}: {e}", log.display()))?;
        let err = file.try_clone().map_err(|e| e.to_string())?;
        let child = Command::new(&self.exe)
            .arg("run")
            .envs(self.env.iter())
            .env(
                "SHAREBOT_SERVER__LISTEN",
                format!("127.0.0.1:{}", replica.port),
            )
            .envs(
                self.named
                    .then(|| ("SHAREBOT_HA__NAME", format!("replica-{}", i + 1))),
            )
            .env_remove("SHAREBOT_CONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::from(file))
            .stderr(Stdio::from(err))
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.exe.display()))?;
        replica.child = Some(child);
        replica.life = Life::Running;
        replica.seen = Seen::default();
        Ok(())
    }

    /// `kill -9` of replica `i`; false when it was not running.
    pub async fn kill(&self, i: usize) -> bool {
        let child = {
            let mut inner = self.lock();
            let Some(replica) = inner.replicas.get_mut(i) else {
                return false;
            };
            if replica.life != Life::Running {
                return false;
            }
            replica.life = Life::Down;
            replica.seen = Seen::default();
            replica.child.take()
        };
        match child {
            Some(mut child) => {
                let _ = child.kill().await;
                true
            }
            None => false,
        }
    }

    /// SIGSTOP (`stop`) or SIGCONT of replica `i`; false when it is not in the state for it.
    pub fn signal_stop(&self, i: usize, stop: bool) -> bool {
        let mut inner = self.lock();
        let Some(replica) = inner.replicas.get_mut(i) else {
            return false;
        };
        let (from, to, signal) = if stop {
            (Life::Running, Life::Stopped, "-STOP")
        } else {
            (Life::Stopped, Life::Running, "-CONT")
        };
        let Some(pid) = replica.child.as_ref().and_then(|c| c.id()) else {
            return false;
        };
        if replica.life != from {
            return false;
        }
        let sent = std::process::Command::new("kill")
            .arg(signal)
            .arg(pid.to_string())
            .status()
            .is_ok_and(|s| s.success());
        if sent {
            replica.life = to;
        }
        sent
    }

    pub fn life(&self, i: usize) -> Option<Life> {
        self.lock().replicas.get(i).map(|r| r.life)
    }

    /// The running replicas.
    pub fn running(&self) -> Vec<usize> {
        let inner = self.lock();
        (0..inner.replicas.len())
            .filter(|&i| inner.replicas[i].life == Life::Running)
            .collect()
    }

    /// Whether replica `i` answered its last `/readyz` poll with 200.
    pub fn ready(&self, i: usize) -> bool {
        self.lock()
            .replicas
            .get(i)
            .is_some_and(|r| r.life == Life::Running && r.seen.ready)
    }

    /// The running replica that said `leader` at the last poll.
    pub fn leader(&self) -> Option<usize> {
        let inner = self.lock();
        (0..inner.replicas.len()).find(|&i| {
            let r = &inner.replicas[i];
            r.life == Life::Running && r.seen.role.as_deref() == Some("leader")
        })
    }

    /// The running replicas that said `follower` (or no role) and are ready.
    pub fn followers(&self) -> Vec<usize> {
        let inner = self.lock();
        (0..inner.replicas.len())
            .filter(|&i| {
                let r = &inner.replicas[i];
                r.life == Life::Running && r.seen.ready && r.seen.role.as_deref() != Some("leader")
            })
            .collect()
    }

    /// What the watcher saw so far.
    pub fn watched(&self) -> Watched {
        let inner = self.lock();
        let open_gap = inner
            .leaderless_since
            .map(|since| since.elapsed())
            .unwrap_or_default();
        Watched {
            changes: inner.changes,
            longest_gap: inner.longest_gap.max(open_gap),
            overlaps: inner.overlaps,
            roles_seen: inner.roles_seen,
        }
    }

    /// Polls every replica's `/readyz` until `stop` is set.
    pub async fn watch(self, stop: tokio::sync::watch::Receiver<bool>) {
        let http = match reqwest::Client::builder()
            .timeout(Duration::from_millis(500))
            .build()
        {
            Ok(http) => http,
            Err(_) => return,
        };
        let urls = self.urls();
        while !*stop.borrow() {
            let polls = urls.iter().map(|url| poll(&http, url));
            let seen = futures_util::future::join_all(polls).await;
            self.note(seen);
            tokio::time::sleep(POLL_EVERY).await;
        }
    }

    /// Records one round of polls: the leader, its changes and the gaps without one.
    fn note(&self, seen: Vec<Seen>) {
        let now = Instant::now();
        let mut inner = self.lock();
        for (replica, seen) in inner.replicas.iter_mut().zip(seen) {
            // A stopped or killed replica's last answer stands for nothing.
            replica.seen = if replica.life == Life::Running {
                seen
            } else {
                Seen::default()
            };
        }
        if inner.replicas.iter().any(|r| r.seen.role.is_some()) {
            inner.roles_seen = true;
        }
        let leaders: Vec<(usize, u32)> = inner
            .replicas
            .iter()
            .enumerate()
            .filter(|(_, r)| r.seen.role.as_deref() == Some("leader"))
            .map(|(i, r)| (i, r.incarnation))
            .collect();
        if leaders.len() > 1 {
            inner.overlaps += 1;
        }
        match leaders.first() {
            Some(&leader) => {
                if let Some(since) = inner.leaderless_since.take() {
                    inner.longest_gap = inner.longest_gap.max(now - since);
                }
                if inner.first_leader.is_none() {
                    inner.first_leader = Some(now);
                } else if inner.leader != Some(leader) {
                    inner.changes += 1;
                }
                inner.leader = Some(leader);
            }
            None => {
                if inner.first_leader.is_some() && inner.leaderless_since.is_none() {
                    inner.leaderless_since = Some(now);
                }
            }
        }
    }

    /// Stops every replica: SIGCONT for a stalled one, SIGTERM, and `kill -9` after `grace`.
    pub async fn stop_all(&self, grace: Duration) {
        for i in 0..self.count() {
            self.signal_stop(i, false);
        }
        let children: Vec<Child> = {
            let mut inner = self.lock();
            inner
                .replicas
                .iter_mut()
                .filter_map(|r| {
                    r.life = Life::Down;
                    r.child.take()
                })
                .collect()
        };
        for child in &children {
            if let Some(pid) = child.id() {
                let _ = std::process::Command::new("kill")
                    .arg("-TERM")
                    .arg(pid.to_string())
                    .status();
            }
        }
        for mut child in children {
            if tokio::time::timeout(grace, child.wait()).await.is_err() {
                let _ = child.kill().await;
            }
        }
    }
}

/// One `/readyz` answer: ready when 200; the role when the body names one.
async fn poll(http: &reqwest::Client, url: &str) -> Seen {
    let Ok(answer) = http.get(format!("{url}/readyz")).send().await else {
        return Seen::default();
    };
    let ready = answer.status().is_success();
    let body: serde_json::Value = answer.json().await.unwrap_or_default();
    Seen {
        ready,
        role: body
            .get("role")
            .and_then(|r| r.as_str())
            .map(str::to_string),
    }
}
