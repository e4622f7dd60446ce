//! Parses what admins type to sharebot (`@sharebot <command>` mentions and DMs) into a typed [`Command`].
//!
//! Every command is declared once, in [`SPECS`]: the help, the README's command table, the
//! permission check, the "Closest:" suggestion and the parser all read that declaration.

use std::fmt;

// Edit distance (insertions, deletions, substitutions) between two strings, by chars.
use strsim::levenshtein;

/// A reference to a channel as people type it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelRef {
    /// A channel name or display name, without the leading `~` and with its case kept as typed:
    /// `~town-square` and `town-square` give `town-square`; a quoted display name such as
    /// `"Launch plan"` gives `Launch plan`.
    Name(String),
    /// A channel in a named team: a channel link, `https://host/<team>/channels/<channel>` (any
    /// scheme and host, optional trailing slash; query and fragment ignored), or
    /// `team/channel` (with or without `~`), the form the configuration uses, lower-cased.
    Link {
        /// The team's URL name: the path segment before `channels`.
        team: String,
        /// The channel's URL name: the path segment after `channels`.
        channel: String,
    },
}

/// What to do with channels a connection shares with us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyArg {
    /// Hold each shared channel until an admin accepts it.
    Review,
    /// Accept shared channels automatically into `team` (kept as typed).
    AutoAccept {
        /// The team that accepted channels land in.
        team: String,
    },
}

/// What a routing rule does with the channels it matches (teams kept as typed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleArg {
    /// `accept --team <team>`.
    Accept { team: String },
    /// `review [--suggest <team>]`.
    Review { suggest: Option<String> },
    /// `reject [--reason "…"]`.
    Reject { reason: Option<String> },
}

/// `rule add`'s rule: `<connection> <pattern> <action> [--private | --public] [--display <pattern>] [--apply-pending]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSpec {
    pub name: String,
    /// A glob (`eng-*`) or `/regex/`, as typed (checked when the rule is written).
    pub pattern: String,
    pub action: RuleArg,
    /// `Some(true)`: private channels only; `Some(false)`: public ones only.
    pub private: Option<bool>,
    /// A pattern over the display name.
    pub display: Option<String>,
    pub apply_pending: bool,
}

/// One parsed sharebot command (its grammar and help are its entry in [`SPECS`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// The topic is the canonical command name when it is a known command or alias,
    /// otherwise the word as typed, lower-cased.
    Help {
        topic: Option<String>,
    },
    Connect {
        name: String,
        display_name: Option<String>,
        policy: PolicyArg,
        share: Vec<ChannelRef>,
    },
    AcceptInvite,
    Connections,
    Reinvite {
        name: String,
    },
    Policy {
        name: String,
        policy: PolicyArg,
    },
    Disconnect {
        name: String,
    },
    /// A system admin's share goes through at once; anyone else's is a share request, with
    /// the note.
    Share {
        channel: ChannelRef,
        with: String,
        note: Option<String>,
    },
    Unshare {
        channel: ChannelRef,
        from: String,
    },
    Shared {
        name: Option<String>,
    },
    Pending,
    /// The asker withdraws their share request number `number`.
    Withdraw {
        number: i64,
    },
    Move {
        channel: ChannelRef,
        team: String,
    },
    /// The username without the leading `@`, lower-cased.
    Whois {
        user: String,
    },
    Info {
        channel: ChannelRef,
    },
    /// The count is 1..=100, default 10.
    Audit {
        count: usize,
        filter: AuditFilter,
    },
    Rules {
        name: String,
    },
    RuleAdd(RuleSpec),
    RuleRemove {
        name: String,
        n: usize,
    },
    RuleMove {
        name: String,
        from: usize,
        to: usize,
    },
    /// The channel name without `~`.
    RuleTest {
        name: String,
        channel: String,
        private: bool,
    },
}

/// What `audit` (and `GET /audit`) narrows the entries to; all of it optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// A connection name, lower-cased.
    pub connection: Option<String>,
    /// One of [`crate::store::AUDIT_ACTIONS`].
    pub action: Option<&'static str>,
    /// A username without `@`, lower-cased.
    pub by: Option<String>,
    /// Only entries this recent (seconds).
    pub since_secs: Option<u64>,
    /// 1-based page of `count` entries, newest first.
    pub page: usize,
}

impl Command {
    /// Canonical name of a parsed command.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Help { .. } => "help",
            Command::Connect { .. } => "connect",
            Command::AcceptInvite => "accept-invite",
            Command::Connections => "connections",
            Command::Reinvite { .. } => "reinvite",
            Command::Policy { .. } => "policy",
            Command::Disconnect { .. } => "disconnect",
            Command::Share { .. } => "share",
            Command::Unshare { .. } => "unshare",
            Command::Shared { .. } => "shared",
            Command::Pending => "pending",
            Command::Withdraw { .. } => "withdraw",
            Command::Move { .. } => "move",
            Command::Whois { .. } => "whois",
            Command::Info { .. } => "info",
            Command::Audit { .. } => "audit",
            Command::Rules { .. } => "rules",
            Command::RuleAdd(_)
            | Command::RuleRemove { .. }
            | Command::RuleMove { .. }
            | Command::RuleTest { .. } => "rule",
        }
    }
}

/// Why a message could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// One line saying what is wrong, e.g. `` `move` needs a channel and a team. ``
    pub message: String,
    /// The canonical command name the error is about, when known (so the caller can add the usage line).
    pub command: Option<&'static str>,
    /// Set when the first word is no command: the word as shown, and the nearest command if
    /// one is close, so the caller can point to `help` in the form the place needs (with the
    /// mention in a channel, without it in a direct message).
    pub unknown: Option<(String, Option<&'static str>)>,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ParseError {}

// ---------------------------------------------------------------------------------------------
// The commands
// ---------------------------------------------------------------------------------------------

/// One command, declared once.
pub struct Spec {
    /// The canonical name (what metrics, `help <command>` and the usage line start with).
    pub name: &'static str,
    /// Other words accepted for it, lower-case (matched in any case).
    pub aliases: &'static [&'static str],
    /// Whether anyone may run it; otherwise only a system admin, in the admin channel or a DM.
    pub open: bool,
    /// The usage line; README's command table has a row `` | `<usage>` | ``.
    pub usage: &'static str,
    /// One line for `help`.
    pub summary: &'static str,
    /// One or two examples for `help <command>` (a test parses each).
    pub examples: &'static [&'static str],
    /// Its arguments, as [`matched`] reads them.
    args: &'static [Arg],
    /// Makes the command from the arguments' values ([`Values`], in the order of `args`).
    build: fn(Values) -> Result<Command, ParseError>,
}

use Arg::{Choice, Keyword, Lead, Many, Switch, Value, Word, Words};
use Kind::{Action, Age, Channel, Conn, Count, Note, Number, Page, Team, Text, Topic, User};

const TEAM_FLAG: &str = "`--team` needs a team name, like `--team marketing`.";

/// Every command, in help order.
///
/// How to declare a new command: add a [`Command`] variant (and its arm in [`Command::name`]
/// and in `Commands::run`), then one entry here. `args` lists what follows the command word:
/// [`Word`] for a positional value of a [`Kind`] (with `Some(message)` when it is required),
/// [`Keyword`] for an optional filler word before the next one (`with`, `to`), [`Lead`] for a
/// value that must come first, [`Words`] for all other words, and the options [`Switch`]
/// (`--flag`), [`Value`] (`--flag <value>` or `--flag=value`) and [`Many`] (`--flag <v> <v>…`).
/// `build` takes one value per argument, in the same order (a [`Keyword`] has none), with the
/// [`Values`] accessors, and checks what spans arguments (`connect`'s policy). The matcher
/// writes the usual messages (unknown option, missing value, too many arguments); a new
/// [`Kind`] needs an arm in `convert`. Add the usage line to README's command table.
#[rustfmt::skip]
pub const SPECS: &[Spec] = &[
    Spec { name: "help", aliases: &["?"], open: true, usage: "help [command]",
        summary: "List the commands, or show what one command does with examples.",
        examples: &["help", "help share"],
        args: &[Word(Topic, None)], build: |mut v| Ok(Command::Help { topic: v.text() }) },
    Spec { name: "connect", aliases: &[], open: false,
        usage: "connect <name> [\"Display name\"] [--review | --auto-accept --team <team>] [--share ~channel …]",
        summary: "Connect to another organization's Mattermost and get an invitation to send them; \
                  choose how channels they share with us are handled, and share channels right away.",
        examples: &["connect org-b \"Org B\" --review",
                    "connect org-b \"Org B\" --auto-accept --team marketing --share ~launch-plan"],
        args: &[Lead(Conn, "`connect` needs a connection name first, like `connect org-b \"Org B\"`."),
                Words, Switch(&["review"], "", &[]),
                Switch(&["auto-accept", "autoaccept"], ": use `--auto-accept --team <team>`", &[]),
                Value("team", Team, TEAM_FLAG),
                Many("share", Channel, "`--share` needs at least one channel, like `--share ~launch-plan`.")],
        build: build_connect },
    Spec { name: "accept-invite", aliases: &["accept", "acceptinvite", "accept_invite"], open: false,
        usage: "accept-invite",
        summary: "Accept an invitation another organization sent us, to connect to their Mattermost.",
        examples: &["accept-invite"], args: &[], build: |_| Ok(Command::AcceptInvite) },
    Spec { name: "connections", aliases: &["list", "status"], open: false, usage: "connections",
        summary: "List our connections and whether each is online.",
        examples: &["connections"], args: &[], build: |_| Ok(Command::Connections) },
    Spec { name: "reinvite", aliases: &[], open: false, usage: "reinvite <name>",
        summary: "Make a fresh invitation for a connection that has not accepted the first one.",
        examples: &["reinvite org-b"],
        args: &[Word(Conn, Some("`reinvite` needs a connection name."))],
        build: |mut v| Ok(Command::Reinvite { name: v.name() }) },
    Spec { name: "policy", aliases: &[], open: false,
        usage: "policy <name> review | policy <name> auto-accept --team <team>",
        summary: "Choose what happens to channels a connection shares with us: hold them for review, \
                  or accept them automatically into a team.",
        examples: &["policy org-b review", "policy org-b auto-accept --team marketing"],
        args: &[Lead(Conn, "`policy` needs a connection name and a policy."),
                Switch(&["review"], "", &["review"]),
                Switch(&["auto-accept", "autoaccept"], ": use `auto-accept --team <team>`",
                       &["auto-accept", "autoaccept", "auto_accept", "auto"]),
                Value("team", Team, TEAM_FLAG), Words,
                Choice("is not a policy: use `review` or `auto-accept --team <team>`.")],
        build: build_policy },
    Spec { name: "rules", aliases: &[], open: false, usage: "rules <connection>",
        summary: "List a connection's routing rules, in the order they are tried.",
        examples: &["rules org-b"],
        args: &[Word(Conn, Some("`rules` needs a connection name."))],
        build: |mut v| Ok(Command::Rules { name: v.name() }) },
    Spec { name: "rule", aliases: &[], open: false,
        usage: "rule add <connection> <pattern> accept --team <team> | review [--suggest <team>] | reject [--reason \"…\"] [--private | --public] [--display <pattern>] [--apply-pending] · rule remove <connection> <n> · rule move <connection> <n> <m> · rule test <connection> <channel> [--private]",
        summary: "Route channels a connection shares with us by name (a glob like `eng-*`, or `/regex/`): \
                  accept into a team, hold for review with a suggested team, or reject with a reason. \
                  The first matching rule decides; the connection's policy decides the rest. \
                  `rule test` says what would happen to a channel name, changing nothing.",
        examples: &["rule add org-b eng-* accept --team engineering", "rule test org-b eng-infra --private"],
        args: &[Lead(Text, "`rule` needs what to do: `add`, `remove`, `move` or `test`."), Words,
                Value("team", Team, TEAM_FLAG),
                Value("suggest", Team, "`--suggest` needs a team name, like `--suggest marketing`."),
                Value("reason", Text, "`--reason` needs the reason in quotes, like `--reason \"not for us\"`."),
                Value("display", Text, "`--display` needs a pattern for the display name, like `--display \"Eng*\"`."),
                Switch(&["private"], "", &[]), Switch(&["public"], "", &[]),
                Switch(&["apply-pending"], "", &[])],
        build: build_rule },
    Spec { name: "disconnect", aliases: &["remove", "delete"], open: false, usage: "disconnect <name>",
        summary: "Remove a connection; channels shared with it stop syncing.",
        examples: &["disconnect org-b"],
        args: &[Word(Conn, Some("`disconnect` needs a connection name."))],
        build: |mut v| Ok(Command::Disconnect { name: v.name() }) },
    Spec { name: "share", aliases: &["request-share"], open: true,
        usage: "share ~channel with <connection> [--note \"…\"]",
        summary: "Share a channel with a connection. Anyone who is not a system admin asks the admins \
                  instead (also `request-share`), with an optional note; they approve or deny.",
        examples: &["share ~launch-plan with org-b",
                    "request-share ~launch-plan with org-b --note \"for the joint launch\""],
        args: &[Word(Channel, Some("`share` needs a channel and a connection.")), Keyword("with"),
                Word(Conn, Some("`share` needs a connection to share the channel with.")),
                Value("note", Note, "`--note` needs its text in quotes, like `--note \"for the launch\"`.")],
        build: |mut v| Ok(Command::Share { channel: v.channel(), with: v.name(), note: v.text() }) },
    Spec { name: "unshare", aliases: &[], open: false, usage: "unshare ~channel from <connection>",
        summary: "Stop sharing a channel with a connection (for a channel they shared with us: cut off our copy, after a confirmation).",
        examples: &["unshare ~launch-plan from org-b"],
        args: &[Word(Channel, Some("`unshare` needs a channel and a connection.")), Keyword("from"),
                Word(Conn, Some("`unshare` needs the connection to stop sharing the channel with."))],
        build: |mut v| Ok(Command::Unshare { channel: v.channel(), from: v.name() }) },
    Spec { name: "shared", aliases: &[], open: false, usage: "shared [connection]",
        summary: "List shared channels, for every connection or for one.",
        examples: &["shared", "shared org-b"],
        args: &[Word(Conn, None)], build: |mut v| Ok(Command::Shared { name: v.text() }) },
    Spec { name: "pending", aliases: &["requests"], open: false, usage: "pending",
        summary: "List channels connections have shared with us that are waiting for review, and \
                  members' requests to share ours.",
        examples: &["pending"], args: &[], build: |_| Ok(Command::Pending) },
    Spec { name: "withdraw", aliases: &[], open: true, usage: "withdraw <n>",
        summary: "Withdraw your own share request (its number is in my answer to it).",
        examples: &["withdraw 3"],
        args: &[Word(Number, Some("`withdraw` needs the number of your request, like `withdraw 3`."))],
        build: |mut v| Ok(Command::Withdraw { number: v.number() }) },
    Spec { name: "move", aliases: &["relocate"], open: false, usage: "move ~channel to <team>",
        summary: "Move a channel to another team, e.g. one accepted from a connection.",
        examples: &["move ~launch-plan to marketing"],
        args: &[Word(Channel, Some("`move` needs a channel and a team.")), Keyword("to"),
                Word(Team, Some("`move` needs the team to move the channel to."))],
        build: |mut v| Ok(Command::Move { channel: v.channel(), team: v.name() }) },
    Spec { name: "whois", aliases: &[], open: true, usage: "whois @user",
        summary: "Show who a user is and which connection they come from.",
        examples: &["whois @alice"],
        args: &[Word(User, Some("`whois` needs a username, like `whois @alice`."))],
        build: |mut v| Ok(Command::Whois { user: v.name() }) },
    Spec { name: "info", aliases: &[], open: true, usage: "info ~channel",
        summary: "Show how a channel is shared: with which connections, and where it came from.",
        examples: &["info ~launch-plan", "info \"Launch plan\""],
        args: &[Word(Channel, Some("`info` needs a channel."))],
        build: |mut v| Ok(Command::Info { channel: v.channel() }) },
    Spec { name: "audit", aliases: &["log"], open: false,
        usage: "audit [count] [--connection <name>] [--action accepted|rejected|expired|withdrawn|shared|unshared|rule|policy|requested|approved|denied] [--by @user] [--since 7d] [--page N]",
        summary: "Search the audit, newest first (10 entries unless you say how many, at most 100): \
                  by connection, action, who, how recent, page by page.",
        examples: &["audit 20 --connection org-b --action accepted --since 7d",
                    "audit --by @alice --page 2"],
        args: &[Word(Count(100), None),
                Value("connection", Conn, "`--connection` needs a value, like `--connection org-b`."),
                Value("action", Action, "`--action` needs a value, like `--action accepted`."),
                Value("by", User, "`--by` needs a value, like `--by @alice`."),
                Value("since", Age, "`--since` needs a value, like `--since 7d`."),
                Value("page", Page, "`--page` needs a value, like `--page 2`.")],
        build: build_audit },
];

/// Every canonical command name, in help order.
pub const COMMANDS: &[&str] = &{
    let mut names = [""; SPECS.len()];
    let mut i = 0;
    while i < names.len() {
        names[i] = SPECS[i].name;
        i += 1;
    }
    names
};

/// The longest connection name.
const MAX_NAME_LEN: usize = 64;
/// The longest note a share request keeps.
pub const MAX_NOTE_LEN: usize = 500;
/// How far (Levenshtein) an unknown word may be from a command to be suggested.
const MAX_SUGGESTION_DISTANCE: usize = 3;

const POLICY_CONFLICT: &str =
    "`review` can't be combined with `auto-accept` or `--team`: pick one policy.";

/// `connect`: one policy from its options, the display name from its other words.
fn build_connect(mut v: Values) -> Result<Command, ParseError> {
    let (name, mut words, review, auto, team) = (v.name(), v.words(), v.set(), v.set(), v.text());
    if review && (auto || team.is_some()) {
        return Err(err("connect", POLICY_CONFLICT));
    }
    let policy = match team {
        Some(team) => PolicyArg::AutoAccept { team },
        None if auto => {
            let message =
                "`--auto-accept` needs `--team <team>`: the team accepted channels go to.";
            return Err(err("connect", message));
        }
        None => PolicyArg::Review,
    };
    words.retain(|w| !w.is_empty());
    let display_name = (!words.is_empty()).then(|| words.join(" "));
    let share = v.channels();
    Ok(Command::Connect {
        name,
        display_name,
        policy,
        share,
    })
}

/// `policy`: `review` or `auto-accept` (as words, before anything else, or as options), and
/// auto-accept's team (as `--team` or as the word after it).
fn build_policy(mut v: Values) -> Result<Command, ParseError> {
    const POLICY: &str = "policy";
    let (name, review, auto, team, words) = (v.name(), v.set(), v.set(), v.text(), v.words());
    let mut words = words.iter();
    let team = match (review, auto, team, words.next()) {
        (true, true, ..) | (true, _, Some(_), None) => return Err(err(POLICY, POLICY_CONFLICT)),
        (false, true, None, Some(word)) => Some(team_name(POLICY, word)?),
        (_, _, _, Some(word)) => return Err(too_many(POLICY, word, true)),
        (_, _, team, None) => team,
    };
    if let Some(extra) = words.next() {
        return Err(too_many(POLICY, extra, true));
    }
    let policy = match team {
        _ if review => PolicyArg::Review,
        Some(team) => PolicyArg::AutoAccept { team },
        None if auto => {
            let message = "`auto-accept` needs a team, like `auto-accept --team marketing`.";
            return Err(err(POLICY, message));
        }
        None => {
            let message = "`policy` needs a policy: `review` or `auto-accept --team <team>`.";
            return Err(err(POLICY, message));
        }
    };
    Ok(Command::Policy { name, policy })
}

/// `audit`: the count and the filter.
fn build_audit(mut v: Values) -> Result<Command, ParseError> {
    let count = v.count().unwrap_or(DEFAULT_AUDIT_COUNT);
    let (connection, action, by) = (v.text(), v.text(), v.text());
    let (since_secs, page) = (v.count(), v.count());
    let action = action.and_then(|a| {
        crate::store::AUDIT_ACTIONS
            .iter()
            .copied()
            .find(|w| *w == a)
    });
    let filter = AuditFilter {
        connection,
        action,
        by,
        since_secs: since_secs.map(|s| s as u64),
        page: page.unwrap_or(1),
    };
    Ok(Command::Audit { count, filter })
}

/// Audit entries shown when `audit` is given no count.
const DEFAULT_AUDIT_COUNT: usize = 10;
/// The furthest page `audit --page` goes to.
const MAX_AUDIT_PAGE: usize = 10_000;
/// The oldest `--since` (ten years), in seconds.
const MAX_AUDIT_AGE: u64 = 3650 * 86_400;

/// The audit search from a count and `(option, value)` pairs (option names without dashes),
/// read by the same declaration as the `audit` command: what `GET /audit` takes from its
/// query string, with the command's messages.
pub fn audit_query(
    count: Option<&str>,
    pairs: &[(String, String)],
) -> Result<(usize, AuditFilter), ParseError> {
    let mut toks: Vec<Tok> = count
        .map(|c| Tok::plain(c.to_string()))
        .into_iter()
        .collect();
    toks.extend(pairs.iter().map(|(k, v)| Tok::plain(format!("--{k}={v}"))));
    let audit = spec("audit").ok_or_else(|| unknown_command("audit"))?;
    match matched(audit, &toks)? {
        Command::Audit { count, filter } => Ok((count, filter)),
        _ => Err(unknown_command("audit")),
    }
}

/// `30m`, `12h`, `7d`, `2w` in seconds (at most [`MAX_AUDIT_AGE`]).
fn age(text: &str) -> Option<u64> {
    let text = text.to_lowercase();
    let unit = match text.chars().last()? {
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        'w' => 604_800,
        _ => return None,
    };
    let digits = &text[..text.len() - 1];
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    let secs = n.checked_mul(unit)?;
    (n > 0 && secs <= MAX_AUDIT_AGE).then_some(secs)
}

/// The declaration of a command word or alias (any case).
pub fn spec(word: &str) -> Option<&'static Spec> {
    let word = word.to_lowercase();
    SPECS
        .iter()
        .find(|s| s.name == word || s.aliases.contains(&word.as_str()))
}

/// The canonical name of a command word or alias (any case).
fn canonical(word: &str) -> Option<&'static str> {
    spec(word).map(|s| s.name)
}

/// The usage line of a command or alias, e.g. "share ~channel with <connection>".
pub fn usage(command: &str) -> Option<&'static str> {
    spec(command).map(|s| s.usage)
}

/// For `help <command>`: its one-line summary and its examples.
pub fn describe(command: &str) -> Option<(&'static str, &'static [&'static str])> {
    spec(command).map(|s| (s.summary, s.examples))
}

/// Whether anyone may run the command (the rest need a system admin).
pub fn is_open_to_everyone(command: &Command) -> bool {
    spec(command.name()).is_some_and(|s| s.open)
}

/// What the bot was asked: strips a leading mention of the bot (`@sharebot`, case-insensitive,
/// optionally followed by `:` or `,`), then parses.
///
/// Returns `Ok(None)` when nothing is left (a bare mention): the caller answers with help.
pub fn parse(text: &str, bot_username: &str) -> Result<Option<Command>, ParseError> {
    let (tokens, unclosed) = tokenize(text);
    let tokens = strip_mention(tokens, bot_username);
    let Some((first, args)) = tokens.split_first() else {
        return if unclosed {
            Err(unclosed_quote(None))
        } else {
            Ok(None)
        };
    };
    let command = spec(&first.text);
    if unclosed {
        return Err(unclosed_quote(command.map(|s| s.name)));
    }
    match command {
        Some(command) => matched(command, args).map(Some),
        None => Err(unknown_command(&first.text)),
    }
}

// ---------------------------------------------------------------------------------------------
// Arguments
// ---------------------------------------------------------------------------------------------

/// One argument of a command (see [`SPECS`] for how they combine).
#[derive(Debug, Clone, Copy)]
enum Arg {
    /// A value that must be the first word (not an option), converted before anything else;
    /// the message when it is missing.
    Lead(Kind, &'static str),
    /// A word in its place among the words; with `Some(message)` it is required.
    Word(Kind, Option<&'static str>),
    /// A word that may stand before the next [`Arg::Word`] and means nothing (`with`, `to`).
    Keyword(&'static str),
    /// All the other words, as typed.
    Words,
    /// An option without a value: its names, what follows "takes no value" when it is given
    /// one, and the bare words that also mean it when they come before any other word or switch.
    Switch(
        &'static [&'static str],
        &'static str,
        &'static [&'static str],
    ),
    /// An option with one value (`--team x` or `--team=x`); the message when it has none.
    Value(&'static str, Kind, &'static str),
    /// An option taking every word up to the next option (`--share ~a ~b`); the message when none.
    Many(&'static str, Kind, &'static str),
    /// One of the [`Arg::Switch`]es' bare words must come before any other word: what follows
    /// another word in the message when it does not.
    Choice(&'static str),
}

/// What a value is, which decides how it is checked and what it becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A connection name ([`connection_name`]).
    Conn,
    /// A channel ([`channel`]).
    Channel,
    /// A team name or display name, as typed.
    Team,
    /// A username, with or without `@`.
    User,
    /// A number from 1 to the given maximum.
    Count(usize),
    /// A command (canonical name) or any other word (lower-cased); empty is none.
    Topic,
    /// Any word as typed, trimmed; empty is missing.
    Text,
    /// One of [`crate::store::AUDIT_ACTIONS`], lower-cased.
    Action,
    /// An age such as `7d` ([`age`]), in seconds.
    Age,
    /// A page number from 1 to [`MAX_AUDIT_PAGE`].
    Page,
    /// Free text of at most [`MAX_NOTE_LEN`] characters, trimmed; empty is none.
    Note,
    /// A share request's number (`3` or `#3`).
    Number,
}

/// The value of one argument.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Val {
    None,
    Set,
    Text(String),
    Count(usize),
    Number(i64),
    Channel(ChannelRef),
    Channels(Vec<ChannelRef>),
    Words(Vec<String>),
}

/// The values of a command's arguments, taken in the order the arguments are declared.
pub struct Values(std::vec::IntoIter<Val>);

#[rustfmt::skip]
impl Values {
    /// A value given as text ([`Kind::Conn`], [`Kind::Team`], [`Kind::User`], [`Kind::Topic`]), if any.
    fn text(&mut self) -> Option<String> { match self.0.next() { Some(Val::Text(t)) => Some(t), _ => None } }
    /// A required text value.
    fn name(&mut self) -> String { self.text().unwrap_or_default() }
    /// A required channel.
    fn channel(&mut self) -> ChannelRef { match self.0.next() { Some(Val::Channel(c)) => c, _ => ChannelRef::Name(String::new()) } }
    /// The channels of a [`Many`].
    fn channels(&mut self) -> Vec<ChannelRef> { match self.0.next() { Some(Val::Channels(c)) => c, _ => Vec::new() } }
    /// A [`Kind::Count`], if given.
    fn count(&mut self) -> Option<usize> { match self.0.next() { Some(Val::Count(n)) => Some(n), _ => None } }
    /// A [`Kind::Number`] (required).
    fn number(&mut self) -> i64 { match self.0.next() { Some(Val::Number(n)) => n, _ => 0 } }
    /// Whether a [`Switch`] was given.
    fn set(&mut self) -> bool { matches!(self.0.next(), Some(Val::Set)) }
    /// The [`Words`].
    fn words(&mut self) -> Vec<String> { match self.0.next() { Some(Val::Words(w)) => w, _ => Vec::new() } }
}

/// Reads a command's arguments: its [`Lead`] first, then options (with their values) and words
/// in the order typed, then the words against its [`Word`]s; values are checked in that order.
fn matched(spec: &Spec, args: &[Tok]) -> Result<Command, ParseError> {
    let cmd = spec.name;
    let mut vals = vec![Val::None; spec.args.len()];
    let mut rest = args.iter().peekable();
    if let Some(Lead(kind, missing)) = spec.args.first() {
        match rest.next() {
            Some(tok) if flag_of(tok).is_none() => vals[0] = convert(cmd, *kind, tok, missing)?,
            _ => return Err(err(cmd, *missing)),
        }
    }
    // `help` takes any word, `--share` too, as a topic.
    let options = !matches!(spec.args, [Word(Topic, _)]);
    let mut words = Vec::new();
    while let Some(tok) = rest.next() {
        let Some(flag) = flag_of(tok).filter(|_| options) else {
            let word = tok.text.to_lowercase();
            let bare = |a: &Arg| matches!(a, Switch(_, _, bare) if !tok.quoted && bare.contains(&word.as_str()));
            let first = words.is_empty() && !vals.contains(&Val::Set);
            let choice = spec.args.iter().find_map(|a| match a {
                Choice(why) => Some(why),
                _ => None,
            });
            match (spec.args.iter().position(bare).filter(|_| first), choice) {
                (Some(i), _) => vals[i] = Val::Set,
                (None, Some(why)) if first => {
                    return Err(err(cmd, format!("\"{}\" {why}", shown(&tok.text))))
                }
                (None, _) => words.push(tok),
            }
            continue;
        };
        let names = |a: &Arg| match a {
            Switch(names, ..) => names.contains(&flag.name.as_str()),
            Value(name, ..) | Many(name, ..) => *name == flag.name,
            _ => false,
        };
        let Some(i) = spec.args.iter().position(names) else {
            return Err(err(cmd, format!("unknown option {}", flag.shown)));
        };
        match spec.args[i] {
            Switch(_, hint, _) if flag.value.is_some() => {
                return Err(err(cmd, format!("`{}` takes no value{hint}.", flag.shown)))
            }
            Value(name, kind, missing) => {
                let tok = match flag.value {
                    Some(text) => Tok::plain(text),
                    None => match rest.next_if(|t| flag_of(t).is_none()) {
                        Some(tok) => tok.clone(),
                        None => return Err(err(cmd, missing)),
                    },
                };
                let val = convert(cmd, kind, &tok, missing)?;
                if vals[i] != Val::None && vals[i] != val {
                    return Err(err(
                        cmd,
                        format!("`--{name}` is given twice: give one {name}."),
                    ));
                }
                vals[i] = val;
            }
            Many(_, kind, missing) => {
                let inline = flag.value.filter(|v| !v.is_empty());
                let inline = inline.map(|text| Tok {
                    quoted: tok.quoted,
                    ..Tok::plain(text)
                });
                let mut given = inline.into_iter().chain(std::iter::from_fn(|| {
                    rest.next_if(|t| flag_of(t).is_none()).cloned()
                }));
                let mut list = match std::mem::replace(&mut vals[i], Val::None) {
                    Val::Channels(list) => list,
                    _ => Vec::new(),
                };
                let before = list.len();
                for tok in given.by_ref() {
                    match convert(cmd, kind, &tok, missing)? {
                        Val::Channel(channel) => list.push(channel),
                        _ => return Err(err(cmd, missing)),
                    }
                }
                if list.len() == before {
                    return Err(err(cmd, missing));
                }
                vals[i] = Val::Channels(list);
            }
            _ => vals[i] = Val::Set,
        }
    }
    let mut words = words.into_iter().peekable();
    let mut given = Vec::new();
    for (i, arg) in spec.args.iter().enumerate() {
        match *arg {
            Keyword(keyword) => {
                words.next_if(|t| t.is_keyword(keyword));
            }
            Word(kind, missing) => match (words.next(), missing) {
                (Some(tok), _) => given.push((i, kind, tok, missing.unwrap_or_default())),
                (None, Some(missing)) => return Err(err(cmd, missing)),
                (None, None) => {}
            },
            Words => vals[i] = Val::Words(words.by_ref().map(|t| t.text.clone()).collect()),
            _ => {}
        }
    }
    if let Some(extra) = words.next() {
        let hint = spec
            .args
            .iter()
            .any(|a| matches!(a, Word(Channel | Team, _)));
        if spec.args.iter().any(|a| matches!(a, Word(..))) {
            return Err(too_many(cmd, &extra.text, hint));
        }
        let unexpected = format!("takes no arguments: unexpected \"{}\".", shown(&extra.text));
        return Err(err(cmd, format!("`{cmd}` {unexpected}")));
    }
    for (i, kind, tok, missing) in given {
        vals[i] = convert(cmd, kind, tok, missing)?;
    }
    let vals = spec
        .args
        .iter()
        .zip(vals)
        .filter(|(a, _)| !matches!(a, Keyword(_) | Choice(_)));
    (spec.build)(Values(vals.map(|(_, v)| v).collect::<Vec<_>>().into_iter()))
}

/// Checks one value of a command and turns it into what the command takes.
fn convert(cmd: &'static str, kind: Kind, tok: &Tok, missing: &str) -> Result<Val, ParseError> {
    let text = tok.text.trim();
    Ok(match kind {
        Conn => Val::Text(connection_name(cmd, tok)?),
        Channel => Val::Channel(channel(cmd, tok)?),
        Team => Val::Text(team_name(cmd, text)?),
        Text if text.is_empty() => return Err(err(cmd, missing)),
        Text => Val::Text(text.to_string()),
        Topic if text.is_empty() => Val::None,
        Topic => Val::Text(canonical(text).map_or_else(|| text.to_lowercase(), str::to_string)),
        User => {
            let user = text.strip_prefix('@').unwrap_or(text).to_lowercase();
            if user.is_empty() {
                return Err(err(cmd, missing));
            }
            if user.contains(|c: char| c.is_whitespace() || c == '@') {
                let why = "is not a username: type it like `@alice`.";
                return Err(err(cmd, format!("\"{}\" {why}", shown(text))));
            }
            Val::Text(user)
        }
        Action => {
            let word = text.to_lowercase();
            match crate::store::AUDIT_ACTIONS.iter().find(|a| **a == word) {
                Some(a) => Val::Text(a.to_string()),
                None => {
                    let words = crate::store::AUDIT_ACTIONS.join(", ");
                    let why = format!("is one of {words}, not \"{}\".", shown(text));
                    return Err(err(cmd, format!("`--action` {why}")));
                }
            }
        }
        Age => match age(text) {
            Some(secs) => Val::Count(secs as usize),
            None => {
                let why = format!(
                    "takes an age like `7d`, `12h` or `30m`, not \"{}\".",
                    shown(text)
                );
                return Err(err(cmd, format!("`--since` {why}")));
            }
        },
        Page => match text.parse::<usize>() {
            Ok(n)
                if text.chars().all(|c| c.is_ascii_digit())
                    && (1..=MAX_AUDIT_PAGE).contains(&n) =>
            {
                Val::Count(n)
            }
            _ => {
                let why = format!(
                    "takes a number from 1 to {MAX_AUDIT_PAGE}, not \"{}\".",
                    shown(text)
                );
                return Err(err(cmd, format!("`--page` {why}")));
            }
        },
        Note if text.is_empty() => Val::None,
        Note if text.chars().count() > MAX_NOTE_LEN => {
            let why = format!("the note is too long: at most {MAX_NOTE_LEN} characters.");
            return Err(err(cmd, why));
        }
        Note => Val::Text(text.to_string()),
        Number => {
            let digits = text.strip_prefix('#').unwrap_or(text);
            match digits.parse::<i64>() {
                Ok(n) if n > 0 && digits.chars().all(|c| c.is_ascii_digit()) => Val::Number(n),
                _ => {
                    let why = "is not a request number: type the number from my answer, like `withdraw 3`.";
                    return Err(err(cmd, format!("\"{}\" {why}", shown(text))));
                }
            }
        }
        Count(max) => match text.parse::<usize>() {
            Ok(n) if text.chars().all(|c| c.is_ascii_digit()) && (1..=max).contains(&n) => {
                Val::Count(n)
            }
            _ => {
                let why = format!("takes a number from 1 to {max}, not \"{}\".", shown(text));
                return Err(err(cmd, format!("`{cmd}` {why}")));
            }
        },
    })
}

// ---------------------------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------------------------

/// One whitespace-separated word, or a quoted group of words.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Tok {
    /// The text without its quotes; whitespace inside quotes collapsed to single spaces and trimmed.
    text: String,
    /// Whether any part of it was in quotes.
    quoted: bool,
    /// Whether it began with a quote (such a token is never a flag).
    leading_quote: bool,
}

impl Tok {
    /// An unquoted token.
    fn plain(text: String) -> Tok {
        Tok {
            text,
            quoted: false,
            leading_quote: false,
        }
    }

    /// Whether this is the keyword `word` (unquoted, any case).
    fn is_keyword(&self, word: &str) -> bool {
        !self.quoted && self.text.eq_ignore_ascii_case(word)
    }
}

/// Straight and typographic double quotes; any of them closes a group any of them opened.
fn is_quote(c: char) -> bool {
    matches!(c, '"' | '\u{201C}' | '\u{201D}' | '\u{201E}')
}

/// Splits `text` into tokens; the flag is true when a quote was left open (its token is kept).
fn tokenize(text: &str) -> (Vec<Tok>, bool) {
    let mut tokens: Vec<Tok> = Vec::new();
    let (mut in_token, mut in_quote) = (false, false);
    for c in text.chars() {
        if !in_quote && c.is_whitespace() {
            in_token = false;
            continue;
        }
        if !in_token {
            let leading_quote = is_quote(c);
            tokens.push(Tok {
                leading_quote,
                ..Tok::plain(String::new())
            });
            in_token = true;
        }
        let Some(tok) = tokens.last_mut() else {
            continue;
        };
        if is_quote(c) {
            in_quote = !in_quote;
            tok.quoted = true;
        } else {
            tok.text.push(c);
        }
    }
    for tok in tokens.iter_mut().filter(|t| t.quoted) {
        tok.text = tok.text.split_whitespace().collect::<Vec<_>>().join(" ");
    }
    (tokens, in_quote)
}

/// Drops the mention of the bot and everything before it.
///
/// A leading mention (`@sharebot`, `@sharebot:`, `@sharebot,`, or `@sharebot:help` glued) is
/// removed, along with any repeats right after it. Text that starts with a command word (a DM) is
/// kept whole. Otherwise everything up to and including the first mention is dropped
/// (`hey @sharebot connections`).
fn strip_mention(tokens: Vec<Tok>, bot_username: &str) -> Vec<Tok> {
    let bot = bot_username.trim().trim_start_matches('@').to_lowercase();
    if bot.is_empty() {
        return tokens;
    }
    let mention = format!("@{bot}");
    // What follows the mention inside the same token: None when it is not a mention.
    let after_mention = |tok: &Tok| -> Option<String> {
        if tok.quoted {
            return None;
        }
        // Compare the first chars case-insensitively; keep the rest as typed.
        let split = tok
            .text
            .char_indices()
            .nth(mention.chars().count())
            .map_or(tok.text.len(), |(i, _)| i);
        let head = tok.text.get(..split)?;
        if head.to_lowercase() != mention {
            return None;
        }
        let rest = tok.text.get(split..)?;
        if rest.is_empty() {
            return Some(String::new());
        }
        rest.strip_prefix([':', ',']).map(str::to_string)
    };

    let start = match tokens.first() {
        Some(first) if after_mention(first).is_some() => 0,
        Some(first) if !first.quoted && canonical(&first.text).is_some() => return tokens,
        _ => match tokens.iter().position(|t| after_mention(t).is_some()) {
            Some(i) => i,
            None => return tokens,
        },
    };
    let mut rest = tokens.into_iter().skip(start).peekable();
    let mut glued = None;
    while let Some(tail) = rest.peek().and_then(&after_mention) {
        rest.next();
        glued = (!tail.is_empty()).then_some(tail);
        if glued.is_some() {
            break;
        }
    }
    let mut out: Vec<Tok> = glued.map(Tok::plain).into_iter().collect();
    out.extend(rest);
    out
}

/// A `--flag` or `--flag=value` token. Em and en dashes (`—team`, what phones make of `--`)
/// count as `--` when a letter follows.
struct Flag {
    /// Lower-cased, without dashes.
    name: String,
    /// As typed, for messages, with `--` in front.
    shown: String,
    /// What followed `=`, if anything did.
    value: Option<String>,
}

fn flag_of(tok: &Tok) -> Option<Flag> {
    if tok.leading_quote {
        return None;
    }
    let body = match tok.text.strip_prefix("--") {
        Some(body) => body,
        None => {
            let body = tok.text.strip_prefix(['\u{2014}', '\u{2013}'])?;
            if !body.starts_with(|c: char| c.is_ascii_alphabetic()) {
                return None;
            }
            body
        }
    };
    let (name, value) = match body.split_once('=') {
        Some((name, value)) => (name, Some(value.trim().to_string())),
        None => (body, None),
    };
    Some(Flag {
        name: name.to_lowercase(),
        shown: format!("--{}", shown(name)),
        value,
    })
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// User text as it may appear in a message: one line, at most 40 chars.
fn shown(text: &str) -> String {
    const MAX: usize = 40;
    let mut out: String = text
        .chars()
        .take(MAX)
        .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
        .collect();
    if text.chars().nth(MAX).is_some() {
        out.push('…');
    }
    out
}

fn err(command: &'static str, message: impl Into<String>) -> ParseError {
    ParseError {
        message: message.into(),
        command: Some(command),
        unknown: None,
    }
}

fn unclosed_quote(command: Option<&'static str>) -> ParseError {
    ParseError {
        message: "unclosed quote: add a closing \" after the quoted words.".to_string(),
        command,
        unknown: None,
    }
}

/// The message as a direct message words it (no mention); in a channel the caller renders
/// the same facts with the mention (`command_reply.md.j2`, `unknown_command`).
fn unknown_command(word: &str) -> ParseError {
    let closest = closest_command(word);
    let mut message = format!("I don't know \"{}\". Try `help`.", shown(word));
    if let Some(closest) = closest {
        message.push_str(&format!(" Closest: `{closest}`."));
    }
    ParseError {
        message,
        command: None,
        unknown: Some((shown(word), closest)),
    }
}

fn too_many(command: &'static str, extra: &str, quote_hint: bool) -> ParseError {
    let mut message = format!("too many arguments: unexpected \"{}\".", shown(extra));
    if quote_hint {
        message.push_str(" Put names with spaces in quotes, like \"Launch plan\".");
    }
    err(command, message)
}

/// The command within [`MAX_SUGGESTION_DISTANCE`] edits of `word`, nearest first, ties in help order.
fn closest_command(word: &str) -> Option<&'static str> {
    let word = word.to_lowercase();
    // Longer words are more than the allowed distance from every command anyway.
    let longest = COMMANDS.iter().map(|c| c.len()).max().unwrap_or(0);
    if word.chars().count() > longest + MAX_SUGGESTION_DISTANCE {
        return None;
    }
    COMMANDS
        .iter()
        .map(|c| (levenshtein(&word, c), *c))
        .filter(|(d, _)| *d <= MAX_SUGGESTION_DISTANCE)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

// ---------------------------------------------------------------------------------------------
// Arguments
// ---------------------------------------------------------------------------------------------

/// A connection name: 1–64 of `[a-zA-Z0-9._-]`, lower-cased.
fn connection_name(command: &'static str, tok: &Tok) -> Result<String, ParseError> {
    let text = &tok.text;
    let valid = text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        && (1..=MAX_NAME_LEN).contains(&text.len());
    if valid {
        Ok(text.to_ascii_lowercase())
    } else {
        Err(err(
            command,
            format!(
                "\"{}\" is not a valid connection name: use 1–64 letters, digits, dots, dashes or underscores.",
                shown(text)
            ),
        ))
    }
}

/// A team as typed (a name or a display name), trimmed.
fn team_name(command: &'static str, text: &str) -> Result<String, ParseError> {
    let team = text.trim();
    if team.is_empty() {
        Err(err(command, format!("`{command}` needs a team name.")))
    } else {
        Ok(team.to_string())
    }
}

/// A channel: `~name`, `name`, `"Display name"` or a channel link.
fn channel(command: &'static str, tok: &Tok) -> Result<ChannelRef, ParseError> {
    let text = tok.text.trim();
    if tok.quoted && text.contains(' ') {
        return Ok(ChannelRef::Name(text.to_string()));
    }
    let unwrapped = text
        .strip_prefix('<')
        .and_then(|t| t.strip_suffix('>'))
        .unwrap_or(text);
    if unwrapped.contains("://") || unwrapped.contains("/channels/") {
        return channel_link(command, unwrapped);
    }
    if text.is_empty() {
        return Err(err(
            command,
            "an empty name is not a channel: use ~channel-name, a \"Display name\" or a channel link.",
        ));
    }
    let name = text.strip_prefix('~').unwrap_or(text);
    if name.is_empty() {
        return Err(err(
            command,
            "`~` needs a channel name right after it, like `~launch-plan`.",
        ));
    }
    if let Some((team, channel)) = name.split_once('/') {
        if is_url_name(team) && is_url_name(channel) {
            return Ok(ChannelRef::Link {
                team: team.to_lowercase(),
                channel: channel.to_lowercase(),
            });
        }
    }
    Ok(ChannelRef::Name(name.to_string()))
}

/// Whether `text` could be a team's or a channel's name (the part of its URL): letters,
/// digits, `-` and `_`.
fn is_url_name(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
}

/// `scheme://host[/subpath]/<team>/channels/<channel>[/][?query][#fragment]`; the scheme and
/// host may be left out.
fn channel_link(command: &'static str, text: &str) -> Result<ChannelRef, ParseError> {
    let bad = || {
        err(
            command,
            format!(
                "\"{}\" is not a channel link: links look like https://chat.example.com/<team>/channels/<channel>.",
                shown(text)
            ),
        )
    };
    let (rest, has_scheme) = match text.split_once("://") {
        Some((_, rest)) => (rest, true),
        None => (text, false),
    };
    let path = rest.split(['?', '#']).next().unwrap_or_default();
    let mut segments = path.split('/').peekable();
    let starts_with_host = has_scheme
        || segments.peek().is_some_and(|s| {
            s.contains('.') || s.contains(':') || s.eq_ignore_ascii_case("localhost")
        });
    if starts_with_host {
        segments.next();
    }
    let segments: Vec<&str> = segments.filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        [.., team, keyword, channel] if keyword.eq_ignore_ascii_case("channels") => {
            Ok(ChannelRef::Link {
                team: (*team).to_string(),
                channel: (*channel).to_string(),
            })
        }
        _ => Err(bad()),
    }
}

// ---------------------------------------------------------------------------------------------
// Routing rules (`rule add|remove|move|test`)
// ---------------------------------------------------------------------------------------------

const RULE: &str = "rule";
/// The longest reason a reject rule takes.
const MAX_REASON_LEN: usize = 500;

/// A rule's place in its list: 1, 2, …
fn place(text: &str) -> Result<usize, ParseError> {
    let text = text.trim();
    match text.parse::<usize>() {
        Ok(n) if n >= 1 && text.chars().all(|c| c.is_ascii_digit()) => Ok(n),
        _ => Err(err(
            RULE,
            format!(
                "\"{}\" is not a rule number: rules are numbered 1, 2, … as `rules <connection>` lists them.",
                shown(text)
            ),
        )),
    }
}

/// `rule`: what to do (`add`, `remove`, `move`, `test`) comes first; each takes its words and
/// the options that go with it.
fn build_rule(mut v: Values) -> Result<Command, ParseError> {
    let verb = v.name().to_lowercase();
    let words = v.words();
    let (team, suggest, reason, display) = (v.text(), v.text(), v.text(), v.text());
    let (private, public, apply_pending) = (v.set(), v.set(), v.set());
    if private && public {
        return Err(err(
            RULE,
            "`--private` and `--public` exclude each other: give one, or neither for both.",
        ));
    }
    let conn = |text: &str| connection_name(RULE, &Tok::plain(text.to_string()));
    let no_options = |what: &str| {
        let given = [
            team.is_some(),
            suggest.is_some(),
            reason.is_some(),
            display.is_some(),
            private,
            public,
            apply_pending,
        ];
        if given.iter().any(|g| *g) {
            Err(err(RULE, format!("`rule {what}` takes no options.")))
        } else {
            Ok(())
        }
    };
    match verb.as_str() {
        "add" | "new" => {}
        "remove" | "delete" | "rm" => {
            no_options("remove")?;
            return match words.as_slice() {
                [name, n] => Ok(Command::RuleRemove { name: conn(name)?, n: place(n)? }),
                [_, _, extra, ..] => Err(too_many(RULE, extra, false)),
                _ => Err(err(RULE, "`rule remove` needs a connection and a rule number, like `rule remove org-b 2`.")),
            };
        }
        "move" => {
            no_options("move")?;
            return match words.as_slice() {
                [name, from, to] => Ok(Command::RuleMove { name: conn(name)?, from: place(from)?, to: place(to)? }),
                [_, _, _, extra, ..] => Err(too_many(RULE, extra, false)),
                _ => Err(err(RULE, "`rule move` needs a connection and two rule numbers, like `rule move org-b 3 1`.")),
            };
        }
        "test" => {
            if team.is_some()
                || suggest.is_some()
                || reason.is_some()
                || display.is_some()
                || apply_pending
            {
                return Err(err(
                    RULE,
                    "`rule test` takes only `--private` or `--public`.",
                ));
            }
            return match words.as_slice() {
                [name, channel] => {
                    let channel = channel.trim();
                    let channel = channel.strip_prefix('~').unwrap_or(channel);
                    if channel.is_empty() {
                        return Err(err(RULE, "`rule test` needs a channel name after the connection."));
                    }
                    Ok(Command::RuleTest { name: conn(name)?, channel: channel.to_string(), private })
                }
                [_, _, extra, ..] => Err(too_many(RULE, extra, true)),
                _ => Err(err(RULE, "`rule test` needs a connection and a channel name, like `rule test org-b eng-infra`.")),
            };
        }
        _ => {
            return Err(err(
                RULE,
                format!(
                    "\"{}\" is not something `rule` does: use `add`, `remove`, `move` or `test`.",
                    shown(&verb)
                ),
            ))
        }
    }
    let usage = "`rule add` needs a connection, a pattern and what to do: `accept --team <team>`, `review` or `reject`.";
    let (name, pattern, action) = match words.as_slice() {
        [name, pattern, action] => (name, pattern.trim(), action.to_lowercase()),
        [_, _, _, extra, ..] => return Err(too_many(RULE, extra, true)),
        _ => return Err(err(RULE, usage)),
    };
    if pattern.is_empty() {
        return Err(err(RULE, usage));
    }
    let misplaced =
        |flag: &str, verb: &str| Err(err(RULE, format!("`{flag}` does not go with `{verb}`.")));
    let action = match action.as_str() {
        "accept" => {
            if suggest.is_some() {
                return misplaced("--suggest", "accept: it takes `--team`");
            }
            if reason.is_some() {
                return misplaced("--reason", "accept");
            }
            match team {
                Some(team) => RuleArg::Accept { team },
                None => {
                    return Err(err(
                        RULE,
                        "`accept` needs `--team <team>`: the team the channels go to.",
                    ))
                }
            }
        }
        "review" => {
            if team.is_some() {
                return misplaced("--team", "review: use `--suggest <team>`");
            }
            if reason.is_some() {
                return misplaced("--reason", "review");
            }
            RuleArg::Review { suggest }
        }
        "reject" => {
            if team.is_some() || suggest.is_some() {
                return misplaced(
                    if team.is_some() {
                        "--team"
                    } else {
                        "--suggest"
                    },
                    "reject",
                );
            }
            if reason
                .as_ref()
                .is_some_and(|r| r.chars().count() > MAX_REASON_LEN)
            {
                return Err(err(
                    RULE,
                    format!("a reason is at most {MAX_REASON_LEN} characters."),
                ));
            }
            RuleArg::Reject { reason }
        }
        other => {
            return Err(err(
                RULE,
                format!(
                "\"{}\" is not a rule's action: use `accept --team <team>`, `review` or `reject`.",
                shown(other)
            ),
            ))
        }
    };
    Ok(Command::RuleAdd(RuleSpec {
        name: conn(name)?,
        pattern: pattern.to_string(),
        action,
        private: (private || public).then_some(private),
        display,
        apply_pending,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const BOT: &str = "sharebot";

    fn ok(text: &str) -> Command {
        match parse(text, BOT) {
            Ok(Some(command)) => command,
            other => panic!("{text:?} gave {other:?}"),
        }
    }

    fn fails(text: &str) -> ParseError {
        match parse(text, BOT) {
            Err(e) => e,
            other => panic!("{text:?} gave {other:?}"),
        }
    }

    /// Asserts the error's message and command.
    /// `audit [count]` with no filter.
    fn plain_audit(count: usize) -> Command {
        Command::Audit {
            count,
            filter: AuditFilter {
                page: 1,
                ..AuditFilter::default()
            },
        }
    }

    fn error_is(text: &str, message: &str, command: Option<&str>) {
        let e = fails(text);
        assert_eq!(e.message, message, "message for {text:?}");
        assert_eq!(e.command, command, "command for {text:?}");
    }

    fn name(n: &str) -> ChannelRef {
        ChannelRef::Name(n.to_string())
    }

    fn link(team: &str, channel: &str) -> ChannelRef {
        ChannelRef::Link {
            team: team.to_string(),
            channel: channel.to_string(),
        }
    }

    fn s(text: &str) -> String {
        text.to_string()
    }

    const BAD_NAME: &str =
        "is not a valid connection name: use 1–64 letters, digits, dots, dashes or underscores.";

    // --- mention stripping -------------------------------------------------------------------

    #[test]
    fn mention_variants() {
        let help = Command::Help { topic: None };
        assert_eq!(ok("@sharebot help"), help);
        assert_eq!(ok("@SHAREBOT: help"), help);
        assert_eq!(ok("@ShareBot, help"), help);
        assert_eq!(ok("@sharebot:help"), help);
        assert_eq!(ok("@sharebot @sharebot help"), help);
        assert_eq!(ok("hey @sharebot connections"), Command::Connections);
        assert_eq!(ok("hey there @sharebot: connections"), Command::Connections);
        assert_eq!(ok("connections"), Command::Connections);
        assert_eq!(ok("  help \n"), help);
        assert_eq!(ok("@sharebot   help\n\n"), help);
        assert_eq!(ok("@sharebot\nhelp"), help);
    }

    #[test]
    fn bare_mention_and_empty_text_give_none() {
        assert_eq!(parse("@sharebot", BOT), Ok(None));
        assert_eq!(parse("@SHAREBOT:", BOT), Ok(None));
        assert_eq!(parse("  @sharebot \n", BOT), Ok(None));
        assert_eq!(parse("hi @sharebot", BOT), Ok(None));
        assert_eq!(parse("", BOT), Ok(None));
        assert_eq!(parse(" \n\t ", BOT), Ok(None));
    }

    #[test]
    fn mention_uses_the_given_bot_name() {
        assert_eq!(
            parse("@sharebot help", "other"),
            Err(unknown_command("@sharebot"))
        );
        assert_eq!(
            ok_with("@other help", "other"),
            Command::Help { topic: None }
        );
        assert_eq!(
            ok_with("@other help", "@Other"),
            Command::Help { topic: None }
        );
        // Not the bot: a longer name, or a quoted mention.
        assert_eq!(fails("@sharebotx help").command, None);
        assert_eq!(fails("\"@sharebot\" help").command, None);
        // No bot name: nothing is stripped.
        assert_eq!(fails_with("@sharebot help", "").command, None);
    }

    fn ok_with(text: &str, bot: &str) -> Command {
        parse(text, bot).unwrap().unwrap()
    }

    fn fails_with(text: &str, bot: &str) -> ParseError {
        parse(text, bot).unwrap_err()
    }

    #[test]
    fn dm_starting_with_a_command_keeps_a_later_mention_as_an_argument() {
        assert_eq!(
            ok("whois @sharebot"),
            Command::Whois {
                user: s("sharebot")
            }
        );
    }

    // --- commands ----------------------------------------------------------------------------

    #[test]
    fn help_topics() {
        assert_eq!(ok("help"), Command::Help { topic: None });
        assert_eq!(ok("?"), Command::Help { topic: None });
        assert_eq!(
            ok("HELP Share"),
            Command::Help {
                topic: Some(s("share"))
            }
        );
        assert_eq!(
            ok("help list"),
            Command::Help {
                topic: Some(s("connections"))
            }
        );
        assert_eq!(
            ok("help ?"),
            Command::Help {
                topic: Some(s("help"))
            }
        );
        assert_eq!(
            ok("help Frobnicate"),
            Command::Help {
                topic: Some(s("frobnicate"))
            }
        );
        assert_eq!(ok("help \"\""), Command::Help { topic: None });
        error_is(
            "help me please",
            "too many arguments: unexpected \"please\".",
            Some("help"),
        );
    }

    #[test]
    fn connect_happy_paths() {
        assert_eq!(
            ok("connect org-b"),
            Command::Connect {
                name: s("org-b"),
                display_name: None,
                policy: PolicyArg::Review,
                share: vec![],
            }
        );
        assert_eq!(
            ok("connect Org-B \"Org B\" --review"),
            Command::Connect {
                name: s("org-b"),
                display_name: Some(s("Org B")),
                policy: PolicyArg::Review,
                share: vec![],
            }
        );
        assert_eq!(
            ok("connect org-b Org   B --auto-accept --team marketing --share ~launch-plan town-square"),
            Command::Connect {
                name: s("org-b"),
                display_name: Some(s("Org B")),
                policy: PolicyArg::AutoAccept { team: s("marketing") },
                share: vec![name("launch-plan"), name("town-square")],
            }
        );
        // Flags in any order, `=` forms, --team alone implies auto-accept, words after flags.
        assert_eq!(
            ok("connect org_b.2 --share=~a --team=\"Shared Inbox\" Org B --share \"Launch plan\" https://chat.example.com/marketing/channels/x"),
            Command::Connect {
                name: s("org_b.2"),
                display_name: Some(s("Org B")),
                policy: PolicyArg::AutoAccept { team: s("Shared Inbox") },
                share: vec![name("a"), name("Launch plan"), link("marketing", "x")],
            }
        );
        // `--share` takes every word up to the next flag.
        assert_eq!(
            ok("connect org-b --share ~a Org B"),
            Command::Connect {
                name: s("org-b"),
                display_name: None,
                policy: PolicyArg::Review,
                share: vec![name("a"), name("Org"), name("B")],
            }
        );
        // Flag names are case-insensitive; phones turn -- into an em dash.
        assert_eq!(
            ok("connect org-b —Auto-Accept —team sales"),
            Command::Connect {
                name: s("org-b"),
                display_name: None,
                policy: PolicyArg::AutoAccept { team: s("sales") },
                share: vec![],
            }
        );
        // The same --team twice is fine; a quoted "--review" is a word.
        assert_eq!(
            ok("connect org-b \"--review\" --team a --team a"),
            Command::Connect {
                name: s("org-b"),
                display_name: Some(s("--review")),
                policy: PolicyArg::AutoAccept { team: s("a") },
                share: vec![],
            }
        );
    }

    #[test]
    fn connect_errors() {
        let c = Some("connect");
        let needs_name = "`connect` needs a connection name first, like `connect org-b \"Org B\"`.";
        error_is("connect", needs_name, c);
        error_is("connect --review org-b", needs_name, c);
        error_is("connect \"Org B!\"", &format!("\"Org B!\" {BAD_NAME}"), c);
        error_is("connect org-b --xyz", "unknown option --xyz", c);
        error_is("connect org-b --Xyz=1", "unknown option --Xyz", c);
        error_is("connect org-b --", "unknown option --", c);
        error_is(
            "connect org-b --review --auto-accept --team m",
            POLICY_CONFLICT,
            c,
        );
        error_is("connect org-b --team m --review", POLICY_CONFLICT, c);
        error_is(
            "connect org-b --auto-accept",
            "`--auto-accept` needs `--team <team>`: the team accepted channels go to.",
            c,
        );
        error_is(
            "connect org-b --auto-accept=marketing",
            "`--auto-accept` takes no value: use `--auto-accept --team <team>`.",
            c,
        );
        error_is(
            "connect org-b --review=yes",
            "`--review` takes no value.",
            c,
        );
        let needs_team = "`--team` needs a team name, like `--team marketing`.";
        error_is("connect org-b --team", needs_team, c);
        error_is("connect org-b --team --review", needs_team, c);
        error_is("connect org-b --team=", "`connect` needs a team name.", c);
        error_is(
            "connect org-b --team a --team b",
            "`--team` is given twice: give one team.",
            c,
        );
        let needs_share = "`--share` needs at least one channel, like `--share ~launch-plan`.";
        error_is("connect org-b --share", needs_share, c);
        error_is("connect org-b --share --review", needs_share, c);
        error_is("connect org-b --share=", needs_share, c);
        error_is(
            "connect org-b --share ~",
            "`~` needs a channel name right after it, like `~launch-plan`.",
            c,
        );
    }

    #[test]
    fn no_argument_commands_and_aliases() {
        for text in ["accept-invite", "accept", "AcceptInvite", "accept_invite"] {
            assert_eq!(ok(text), Command::AcceptInvite, "{text}");
        }
        for text in ["connections", "list", "STATUS"] {
            assert_eq!(ok(text), Command::Connections, "{text}");
        }
        for text in ["pending", "requests"] {
            assert_eq!(ok(text), Command::Pending, "{text}");
        }
        error_is(
            "connections org-b",
            "`connections` takes no arguments: unexpected \"org-b\".",
            Some("connections"),
        );
        error_is(
            "list org-b",
            "`connections` takes no arguments: unexpected \"org-b\".",
            Some("connections"),
        );
        error_is(
            "pending now",
            "`pending` takes no arguments: unexpected \"now\".",
            Some("pending"),
        );
        error_is(
            "accept abc",
            "`accept-invite` takes no arguments: unexpected \"abc\".",
            Some("accept-invite"),
        );
        error_is("pending --all", "unknown option --all", Some("pending"));
    }

    #[test]
    fn reinvite_and_disconnect() {
        assert_eq!(ok("reinvite Org-B"), Command::Reinvite { name: s("org-b") });
        assert_eq!(
            ok("disconnect org-b"),
            Command::Disconnect { name: s("org-b") }
        );
        assert_eq!(ok("remove org-b"), Command::Disconnect { name: s("org-b") });
        assert_eq!(ok("Delete org-b"), Command::Disconnect { name: s("org-b") });
        error_is(
            "reinvite",
            "`reinvite` needs a connection name.",
            Some("reinvite"),
        );
        error_is(
            "remove",
            "`disconnect` needs a connection name.",
            Some("disconnect"),
        );
        error_is(
            "disconnect org-b now",
            "too many arguments: unexpected \"now\".",
            Some("disconnect"),
        );
        error_is(
            "disconnect org/b",
            &format!("\"org/b\" {BAD_NAME}"),
            Some("disconnect"),
        );
    }

    #[test]
    fn policy_forms() {
        let auto = |team: &str| Command::Policy {
            name: s("org-b"),
            policy: PolicyArg::AutoAccept { team: s(team) },
        };
        let review = Command::Policy {
            name: s("org-b"),
            policy: PolicyArg::Review,
        };
        assert_eq!(ok("policy org-b review"), review);
        assert_eq!(ok("policy ORG-B Review"), review);
        assert_eq!(ok("policy org-b --review"), review);
        assert_eq!(
            ok("policy org-b auto-accept --team marketing"),
            auto("marketing")
        );
        assert_eq!(ok("policy org-b auto-accept marketing"), auto("marketing"));
        assert_eq!(
            ok("policy org-b auto-accept --team=marketing"),
            auto("marketing")
        );
        assert_eq!(ok("policy org-b --team marketing"), auto("marketing"));
        assert_eq!(
            ok("policy org-b --team marketing auto-accept"),
            auto("marketing")
        );
        assert_eq!(
            ok("policy org-b auto-accept \"Shared Inbox\""),
            auto("Shared Inbox")
        );
    }

    #[test]
    fn policy_errors() {
        let p = Some("policy");
        error_is(
            "policy",
            "`policy` needs a connection name and a policy.",
            p,
        );
        error_is(
            "policy org-b",
            "`policy` needs a policy: `review` or `auto-accept --team <team>`.",
            p,
        );
        error_is(
            "policy org-b auto-accept",
            "`auto-accept` needs a team, like `auto-accept --team marketing`.",
            p,
        );
        error_is(
            "policy org-b open",
            "\"open\" is not a policy: use `review` or `auto-accept --team <team>`.",
            p,
        );
        error_is("policy org-b review --team x", POLICY_CONFLICT, p);
        error_is("policy org-b review --auto-accept", POLICY_CONFLICT, p);
        error_is(
            "policy org-b review now",
            "too many arguments: unexpected \"now\". Put names with spaces in quotes, like \"Launch plan\".",
            p,
        );
        error_is("policy org-b --bogus", "unknown option --bogus", p);
        error_is(
            "policy \"Org B\" review",
            &format!("\"Org B\" {BAD_NAME}"),
            p,
        );
    }

    #[test]
    fn share_and_unshare() {
        let share = |channel: ChannelRef| Command::Share {
            channel,
            with: s("org-b"),
            note: None,
        };
        assert_eq!(
            ok("share ~launch-plan with org-b"),
            share(name("launch-plan"))
        );
        assert_eq!(ok("share ~launch-plan org-b"), share(name("launch-plan")));
        assert_eq!(
            ok("SHARE launch-plan WITH Org-B"),
            share(name("launch-plan"))
        );
        assert_eq!(
            ok("share \"Launch plan\" with org-b"),
            share(name("Launch plan"))
        );
        assert_eq!(
            ok("share “Launch plan” with org-b"),
            share(name("Launch plan"))
        );
        assert_eq!(ok("share with with org-b"), share(name("with")));
        assert_eq!(
            ok("unshare ~launch-plan from org-b"),
            Command::Unshare {
                channel: name("launch-plan"),
                from: s("org-b")
            }
        );
        assert_eq!(
            ok("unshare ~launch-plan org-b"),
            Command::Unshare {
                channel: name("launch-plan"),
                from: s("org-b")
            }
        );
    }

    #[test]
    fn share_requests_take_a_note_and_are_withdrawn_by_number() {
        let with_note = |note: &str| Command::Share {
            channel: name("launch-plan"),
            with: s("org-b"),
            note: Some(s(note)),
        };
        assert_eq!(
            ok("request-share ~launch-plan with org-b --note \"for the joint launch\""),
            with_note("for the joint launch")
        );
        assert_eq!(
            ok("share ~launch-plan --note=soon with org-b"),
            with_note("soon")
        );
        let message = |text: &str| fails(text).message;
        assert!(message("share ~launch-plan with org-b --note").contains("needs its text"));
        let long = format!("share ~x with org-b --note \"{}\"", "a".repeat(501));
        assert_eq!(
            message(&long),
            "the note is too long: at most 500 characters."
        );
        assert_eq!(
            message("share ~x with org-b --note a --note b"),
            "`--note` is given twice: give one note."
        );
        assert_eq!(
            message("share ~x with org-b --urgent"),
            "unknown option --urgent"
        );
        assert_eq!(ok("withdraw 3"), Command::Withdraw { number: 3 });
        assert_eq!(ok("withdraw #12"), Command::Withdraw { number: 12 });
        assert!(message("withdraw three").contains("\"three\" is not a request number"));
        assert!(message("withdraw").contains("needs the number of your request"));
        assert!(message("withdraw 0").contains("not a request number"));
        assert!(message("withdraw 1 2").contains("too many arguments"));
    }

    #[test]
    fn share_errors() {
        let sh = Some("share");
        error_is("share", "`share` needs a channel and a connection.", sh);
        error_is(
            "share ~x",
            "`share` needs a connection to share the channel with.",
            sh,
        );
        error_is(
            "share ~x with",
            "`share` needs a connection to share the channel with.",
            sh,
        );
        error_is(
            "share ~x with org-b now",
            "too many arguments: unexpected \"now\". Put names with spaces in quotes, like \"Launch plan\".",
            sh,
        );
        error_is(
            "share Launch plan with org-b",
            "too many arguments: unexpected \"with\". Put names with spaces in quotes, like \"Launch plan\".",
            sh,
        );
        error_is(
            "share ~x with \"Org B\"",
            &format!("\"Org B\" {BAD_NAME}"),
            sh,
        );
        error_is(
            "share ~ with org-b",
            "`~` needs a channel name right after it, like `~launch-plan`.",
            sh,
        );
        error_is(
            "share \"\" with org-b",
            "an empty name is not a channel: use ~channel-name, a \"Display name\" or a channel link.",
            sh,
        );
        error_is("share ~x with org-b --now", "unknown option --now", sh);
        let un = Some("unshare");
        error_is("unshare", "`unshare` needs a channel and a connection.", un);
        error_is(
            "unshare ~x from",
            "`unshare` needs the connection to stop sharing the channel with.",
            un,
        );
        error_is(
            "unshare ~x from org-b org-c",
            "too many arguments: unexpected \"org-c\". Put names with spaces in quotes, like \"Launch plan\".",
            un,
        );
    }

    #[test]
    fn shared() {
        assert_eq!(ok("shared"), Command::Shared { name: None });
        assert_eq!(
            ok("shared Org-B"),
            Command::Shared {
                name: Some(s("org-b"))
            }
        );
        error_is(
            "shared org-b org-c",
            "too many arguments: unexpected \"org-c\".",
            Some("shared"),
        );
        error_is(
            "shared \"a b\"",
            &format!("\"a b\" {BAD_NAME}"),
            Some("shared"),
        );
    }

    #[test]
    fn move_command() {
        let mv = |team: &str| Command::Move {
            channel: name("launch-plan"),
            team: s(team),
        };
        assert_eq!(ok("move ~launch-plan to marketing"), mv("marketing"));
        assert_eq!(ok("move ~launch-plan marketing"), mv("marketing"));
        assert_eq!(ok("relocate ~launch-plan TO Marketing"), mv("Marketing"));
        assert_eq!(
            ok("move ~launch-plan to \"Shared Inbox\""),
            mv("Shared Inbox")
        );
        assert_eq!(
            ok("move ~launch-plan to “ Shared  Inbox ”"),
            mv("Shared Inbox")
        );
        let m = Some("move");
        error_is("move", "`move` needs a channel and a team.", m);
        error_is(
            "move ~launch-plan",
            "`move` needs the team to move the channel to.",
            m,
        );
        error_is(
            "move ~launch-plan to",
            "`move` needs the team to move the channel to.",
            m,
        );
        error_is("move ~launch-plan to \"\"", "`move` needs a team name.", m);
        error_is(
            "move ~launch-plan to Shared Inbox",
            "too many arguments: unexpected \"Inbox\". Put names with spaces in quotes, like \"Launch plan\".",
            m,
        );
    }

    #[test]
    fn whois() {
        let w = |u: &str| Command::Whois { user: s(u) };
        assert_eq!(ok("whois @alice"), w("alice"));
        assert_eq!(ok("whois @Alice"), w("alice"));
        assert_eq!(ok("WHOIS alice"), w("alice"));
        assert_eq!(ok("whois alice:org-b"), w("alice:org-b"));
        let wh = Some("whois");
        let needs = "`whois` needs a username, like `whois @alice`.";
        error_is("whois", needs, wh);
        error_is("whois @", needs, wh);
        error_is(
            "whois @alice @bob",
            "too many arguments: unexpected \"@bob\".",
            wh,
        );
        error_is(
            "whois \"Alice Smith\"",
            "\"Alice Smith\" is not a username: type it like `@alice`.",
            wh,
        );
        error_is(
            "whois @@alice",
            "\"@@alice\" is not a username: type it like `@alice`.",
            wh,
        );
    }

    #[test]
    fn info() {
        assert_eq!(
            ok("info ~launch-plan"),
            Command::Info {
                channel: name("launch-plan")
            }
        );
        assert_eq!(
            ok("info \"Launch plan\""),
            Command::Info {
                channel: name("Launch plan")
            }
        );
        assert_eq!(
            ok("info Launch"),
            Command::Info {
                channel: name("Launch")
            }
        );
        error_is("info", "`info` needs a channel.", Some("info"));
        error_is(
            "info Launch plan",
            "too many arguments: unexpected \"plan\". Put names with spaces in quotes, like \"Launch plan\".",
            Some("info"),
        );
    }

    #[test]
    fn audit_filters() {
        let filtered = |count, filter| Command::Audit { count, filter };
        assert_eq!(
            ok("audit 20 --connection Org-B --action Accepted --by @Alice --since 7d --page 2"),
            filtered(
                20,
                AuditFilter {
                    connection: Some("org-b".into()),
                    action: Some("accepted"),
                    by: Some("alice".into()),
                    since_secs: Some(7 * 86_400),
                    page: 2,
                }
            )
        );
        assert_eq!(
            ok("audit --since=12h --by alice 5"),
            filtered(
                5,
                AuditFilter {
                    by: Some("alice".into()),
                    since_secs: Some(12 * 3600),
                    page: 1,
                    ..AuditFilter::default()
                }
            )
        );
        for word in crate::store::AUDIT_ACTIONS {
            match ok(&format!("audit --action {word}")) {
                Command::Audit { filter, .. } => assert_eq!(filter.action, Some(*word)),
                other => panic!("{other:?}"),
            }
        }
        let a = Some("audit");
        error_is(
            "audit --action frobbed",
            "`--action` is one of accepted, rejected, expired, withdrawn, shared, unshared, rule, policy, requested, approved, denied, not \"frobbed\".",
            a,
        );
        error_is(
            "audit --since",
            "`--since` needs a value, like `--since 7d`.",
            a,
        );
        for bad in ["7", "d", "0d", "7y", "-1d", "99999w"] {
            error_is(
                &format!("audit --since {bad}"),
                &format!("`--since` takes an age like `7d`, `12h` or `30m`, not \"{bad}\"."),
                a,
            );
        }
        error_is(
            "audit --page 0",
            "`--page` takes a number from 1 to 10000, not \"0\".",
            a,
        );
        error_is("audit --by", "`--by` needs a value, like `--by @alice`.", a);
        error_is(
            "audit --by a@b",
            "\"a@b\" is not a username: type it like `@alice`.",
            a,
        );
        error_is(
            "audit --page 1 --page 2",
            "`--page` is given twice: give one page.",
            a,
        );
        error_is("audit --who me", "unknown option --who", a);
        error_is(
            "audit --connection \"Org B\"",
            "\"Org B\" is not a valid connection name: use 1–64 letters, digits, dots, dashes or underscores.",
            a,
        );
        // The query string of `GET /audit` reads the same way, with the same messages.
        let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
            list.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert_eq!(
            audit_query(
                Some("5"),
                &pairs(&[("by", "@alice"), ("action", "denied"), ("page", "3")])
            ),
            Ok((
                5,
                AuditFilter {
                    by: Some("alice".into()),
                    action: Some("denied"),
                    page: 3,
                    ..AuditFilter::default()
                }
            ))
        );
        assert_eq!(
            audit_query(None, &[]),
            Ok((
                10,
                AuditFilter {
                    page: 1,
                    ..AuditFilter::default()
                }
            ))
        );
        let e = audit_query(Some("500"), &[]).unwrap_err();
        assert_eq!(
            e.message,
            "`audit` takes a number from 1 to 100, not \"500\"."
        );
        let e = audit_query(None, &pairs(&[("since", "")])).unwrap_err();
        assert!(e.message.starts_with("`--since` takes an age"), "{e:?}");
        let e = audit_query(None, &pairs(&[("sort", "asc")])).unwrap_err();
        assert_eq!(e.message, "unknown option --sort");
    }

    #[test]
    fn audit_bounds() {
        assert_eq!(ok("audit"), plain_audit(10));
        assert_eq!(ok("log"), plain_audit(10));
        assert_eq!(ok("audit 1"), plain_audit(1));
        assert_eq!(ok("audit 20"), plain_audit(20));
        assert_eq!(ok("audit 100"), plain_audit(100));
        assert_eq!(ok("audit 007"), plain_audit(7));
        let a = Some("audit");
        for bad in [
            "0",
            "101",
            "-5",
            "+5",
            "1.5",
            "ten",
            "99999999999999999999999999",
        ] {
            let shown_bad = shown(bad);
            error_is(
                &format!("audit {bad}"),
                &format!("`audit` takes a number from 1 to 100, not \"{shown_bad}\"."),
                a,
            );
        }
        error_is("audit 5 6", "too many arguments: unexpected \"6\".", a);
    }

    // --- channels ----------------------------------------------------------------------------

    #[test]
    fn channel_links() {
        let info = |text: &str| match ok(&format!("info {text}")) {
            Command::Info { channel } => channel,
            other => panic!("{other:?}"),
        };
        let expected = link("marketing", "launch-plan");
        for text in [
            "https://chat.example.com/marketing/channels/launch-plan",
            "https://chat.example.com/marketing/channels/launch-plan/",
            "http://localhost:8065/marketing/channels/launch-plan?view=info#top",
            "https://chat.example.com/mattermost/marketing/channels/launch-plan",
            "<https://chat.example.com/marketing/channels/launch-plan>",
            "chat.example.com/marketing/channels/launch-plan",
            "/marketing/channels/launch-plan",
            "\"https://chat.example.com/marketing/channels/launch-plan\"",
        ] {
            assert_eq!(info(text), expected, "{text}");
        }
        // A team or channel may be called "channels".
        assert_eq!(
            info("https://x.org/channels/channels/channels"),
            link("channels", "channels")
        );
        for bad in [
            "https://chat.example.com/marketing/pl/abc123",
            "https://chat.example.com/channels/launch-plan",
            "https://chat.example.com/marketing/channels/launch-plan/extra",
            "https://",
        ] {
            error_is(
                &format!("info {bad}"),
                &format!(
                    "\"{}\" is not a channel link: links look like https://chat.example.com/<team>/channels/<channel>.",
                    shown(bad)
                ),
                Some("info"),
            );
        }
    }

    #[test]
    fn team_slash_channel_names_the_team() {
        let info = |text: &str| match ok(&format!("info {text}")) {
            Command::Info { channel } => channel,
            other => panic!("{other:?}"),
        };
        for text in [
            "marketing/off-topic",
            "~marketing/off-topic",
            "Marketing/Off-Topic",
            "\"marketing/off-topic\"",
        ] {
            assert_eq!(info(text), link("marketing", "off-topic"), "{text}");
        }
        assert_eq!(info("eng_2/q3_plan"), link("eng_2", "q3_plan"));
        // Not two names: kept as a name (a display name, looked up as typed).
        for text in ["off-topic/", "/off-topic", "a/b/c", "R&D/Ops"] {
            assert_eq!(info(text), name(text), "{text}");
        }
        match ok("share engineering/launch-plan with org-b") {
            Command::Share { channel, .. } => {
                assert_eq!(channel, link("engineering", "launch-plan"))
            }
            other => panic!("{other:?}"),
        }
        match ok("move ~inbox/launch-plan to marketing") {
            Command::Move { channel, team } => {
                assert_eq!(channel, link("inbox", "launch-plan"));
                assert_eq!(team, "marketing");
            }
            other => panic!("{other:?}"),
        }
    }

    // --- tokens ------------------------------------------------------------------------------

    #[test]
    fn quotes() {
        let t = |text: &str| {
            tokenize(text)
                .0
                .into_iter()
                .map(|t| t.text)
                .collect::<Vec<_>>()
        };
        assert_eq!(t("a \"b c\" d"), vec!["a", "b c", "d"]);
        assert_eq!(t("“b c” „d e“"), vec!["b c", "d e"]);
        assert_eq!(t("x\"\"y \"\""), vec!["xy", ""]);
        assert_eq!(t("--team=\"Shared  Inbox\""), vec!["--team=Shared Inbox"]);
        assert_eq!(t("\" a\n b \""), vec!["a b"]);
        assert!(tokenize("\"open").1);
        assert!(!tokenize("\"closed\"").1);
    }

    #[test]
    fn unclosed_quote_errors() {
        let msg = "unclosed quote: add a closing \" after the quoted words.";
        error_is("share \"Launch plan with org-b", msg, Some("share"));
        error_is("@sharebot connect org-b “Org B", msg, Some("connect"));
        error_is("frob \"x", msg, None);
        error_is("\"", msg, None);
    }

    // --- unknown commands --------------------------------------------------------------------

    #[test]
    fn unknown_commands_and_suggestions() {
        let plain = |w: &str| format!("I don't know \"{w}\". Try `help`.");
        error_is("frobnicate", &plain("frobnicate"), None);
        error_is(
            "conections",
            &format!("{} Closest: `connections`.", plain("conections")),
            None,
        );
        error_is(
            "@sharebot Sahre ~x with y",
            &format!("{} Closest: `share`.", plain("Sahre")),
            None,
        );
        // "shar" is one edit from both `share` and `shared`: the first in help order wins.
        error_is(
            "shar",
            &format!("{} Closest: `share`.", plain("shar")),
            None,
        );
        error_is("\"\"", &plain(""), None);
        let long = "x".repeat(100);
        assert_eq!(fails(&long).message, plain(&format!("{}…", "x".repeat(40))));
    }

    #[test]
    fn levenshtein_distances() {
        assert_eq!(levenshtein("", ""), 0);
        assert_eq!(levenshtein("abc", ""), 3);
        assert_eq!(levenshtein("", "abc"), 3);
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert_eq!(levenshtein("conections", "connections"), 1);
        assert_eq!(levenshtein("é", "e"), 1);
    }

    // --- tables ------------------------------------------------------------------------------

    #[test]
    fn every_command_has_usage_and_description_with_parsing_examples() {
        for command in COMMANDS {
            let usage_line = usage(command).unwrap();
            assert!(usage_line.starts_with(command), "{usage_line}");
            let (summary, examples) = describe(command).unwrap();
            assert!(!summary.is_empty() && !summary.contains('\n'));
            assert!(!examples.is_empty() && examples.len() <= 2);
            for example in examples {
                let parsed = ok(&format!("@sharebot {example}"));
                assert_eq!(parsed.name(), *command, "{example}");
            }
        }
        assert_eq!(
            usage("share"),
            Some("share ~channel with <connection> [--note \"…\"]")
        );
        assert_eq!(usage("LIST"), Some("connections"));
        assert_eq!(usage("frob"), None);
        assert_eq!(describe("frob"), None);
    }

    #[test]
    fn open_commands() {
        let open: Vec<&str> = [
            "help",
            "connect a",
            "accept-invite",
            "connections",
            "reinvite a",
            "policy a review",
            "disconnect a",
            "share ~x a",
            "unshare ~x a",
            "shared",
            "pending",
            "move ~x t",
            "whois @a",
            "info ~x",
            "audit",
        ]
        .iter()
        .map(|text| ok(text))
        .filter(is_open_to_everyone)
        .map(|c| c.name())
        .collect();
        // `share` is open: anyone who is not a system admin asks the approvers instead.
        assert_eq!(open, vec!["help", "share", "whois", "info"]);
    }

    #[test]
    fn display_prints_the_message() {
        let e = fails("frobnicate");
        assert_eq!(e.to_string(), e.message);
    }

    // --- properties --------------------------------------------------------------------------

    fn check_any(text: &str) -> Result<(), TestCaseError> {
        check_any_with(text, BOT)
    }

    fn check_any_with(text: &str, bot: &str) -> Result<(), TestCaseError> {
        match parse(text, bot) {
            Ok(None) => {}
            Ok(Some(command)) => {
                prop_assert!(COMMANDS.contains(&command.name()));
            }
            Err(e) => {
                prop_assert!(!e.message.is_empty());
                prop_assert!(!e.message.contains('\n'), "{:?}", e.message);
                if let Some(command) = e.command {
                    prop_assert!(usage(command).is_some());
                }
            }
        }
        Ok(())
    }

    const SOUP: &[&str] = &[
        "help",
        "?",
        "connect",
        "accept-invite",
        "accept",
        "connections",
        "list",
        "reinvite",
        "policy",
        "disconnect",
        "remove",
        "share",
        "unshare",
        "shared",
        "pending",
        "move",
        "whois",
        "info",
        "audit",
        "log",
        "rules",
        "rule",
        "add",
        "test",
        "accept",
        "reject",
        "--suggest",
        "--reason",
        "--private",
        "--public",
        "--display=",
        "--apply-pending",
        "eng-*",
        "/[/",
        "/^x$/",
        "with",
        "from",
        "to",
        "review",
        "auto-accept",
        "--review",
        "--auto-accept",
        "--team",
        "--team=",
        "--share",
        "--share=~x",
        "--",
        "—team",
        "—",
        "--x=",
        "\"",
        "“",
        "”",
        "„",
        "~",
        "~launch-plan",
        "@",
        "@sharebot",
        "@SHAREBOT:",
        "@sharebot,",
        "@alice",
        "org-b",
        "Org B!",
        "marketing",
        "0",
        "10",
        "101",
        "-1",
        "https://chat.example.com/marketing/channels/launch-plan",
        "https://",
        "/channels/",
        "://",
        "<",
        ">",
        "?q=1",
        "#",
        "é",
        "İ",
        "\u{0}",
        "\u{2028}",
        "\n",
        "\t",
        "",
    ];

    fn soup() -> impl Strategy<Value = String> {
        prop::collection::vec(
            (
                prop::sample::select(SOUP),
                prop::sample::select(&[" ", "", "\n", "  "][..]),
            ),
            0..12,
        )
        .prop_map(|parts| {
            parts
                .into_iter()
                .flat_map(|(word, sep)| [word, sep])
                .collect()
        })
    }

    fn conn_name() -> impl Strategy<Value = String> {
        "[a-z0-9][a-z0-9._-]{0,15}"
    }

    fn team() -> impl Strategy<Value = String> {
        prop_oneof!["[a-z][a-z0-9-]{0,10}", "[A-Z][a-z]{1,6} [A-Z][a-z]{1,6}"]
    }

    fn channel_ref() -> impl Strategy<Value = ChannelRef> {
        prop_oneof![
            "[a-z][a-z0-9_-]{0,12}".prop_map(ChannelRef::Name),
            "[A-Z][a-z]{1,6}( [a-z]{1,6}){1,2}".prop_map(ChannelRef::Name),
            ("[a-z][a-z0-9-]{0,8}", "[a-z][a-z0-9_-]{0,12}")
                .prop_map(|(team, channel)| ChannelRef::Link { team, channel }),
        ]
    }

    fn policy_arg() -> impl Strategy<Value = PolicyArg> {
        prop_oneof![
            Just(PolicyArg::Review),
            team().prop_map(|team| PolicyArg::AutoAccept { team }),
        ]
    }

    fn command() -> impl Strategy<Value = Command> {
        prop_oneof![
            prop::option::of(prop::sample::select(COMMANDS)).prop_map(|t| Command::Help {
                topic: t.map(str::to_string)
            }),
            (
                conn_name(),
                prop::option::of("[A-Z][a-z]{0,6}( [A-Z][a-z]{0,6}){0,2}"),
                policy_arg(),
                prop::collection::vec(channel_ref(), 0..3),
            )
                .prop_map(|(name, display_name, policy, share)| Command::Connect {
                    name,
                    display_name,
                    policy,
                    share
                }),
            Just(Command::AcceptInvite),
            Just(Command::Connections),
            conn_name().prop_map(|name| Command::Reinvite { name }),
            (conn_name(), policy_arg()).prop_map(|(name, policy)| Command::Policy { name, policy }),
            conn_name().prop_map(|name| Command::Disconnect { name }),
            (channel_ref(), conn_name()).prop_map(|(channel, with)| Command::Share {
                channel,
                with,
                note: None
            }),
            (channel_ref(), conn_name())
                .prop_map(|(channel, from)| Command::Unshare { channel, from }),
            prop::option::of(conn_name()).prop_map(|name| Command::Shared { name }),
            Just(Command::Pending),
            (1i64..100_000).prop_map(|number| Command::Withdraw { number }),
            (channel_ref(), team()).prop_map(|(channel, team)| Command::Move { channel, team }),
            "[a-z][a-z0-9._-]{0,10}".prop_map(|user| Command::Whois { user }),
            channel_ref().prop_map(|channel| Command::Info { channel }),
            (1..=100usize).prop_map(plain_audit),
            conn_name().prop_map(|name| Command::Rules { name }),
            rule_spec().prop_map(Command::RuleAdd),
            (conn_name(), 1..50usize).prop_map(|(name, n)| Command::RuleRemove { name, n }),
            (conn_name(), 1..50usize, 1..50usize).prop_map(|(name, from, to)| Command::RuleMove {
                name,
                from,
                to
            }),
            (conn_name(), "[a-z][a-z0-9_-]{0,12}", any::<bool>()).prop_map(
                |(name, channel, private)| Command::RuleTest {
                    name,
                    channel,
                    private
                }
            ),
        ]
    }

    fn rule_spec() -> impl Strategy<Value = RuleSpec> {
        let pattern = prop_oneof![
            "[a-z*?][a-z0-9*?_-]{0,10}",
            "/\\^?[a-z]{1,6}(-[a-z]{1,4})?\\$?/",
        ];
        let reason = "[A-Z][a-z]{1,6}( [a-z]{1,6}){0,3}";
        let action = prop_oneof![
            team().prop_map(|team| RuleArg::Accept { team }),
            prop::option::of(team()).prop_map(|suggest| RuleArg::Review { suggest }),
            prop::option::of(reason).prop_map(|reason| RuleArg::Reject { reason }),
        ];
        (
            conn_name(),
            pattern,
            action,
            prop::option::of(any::<bool>()),
            prop::option::of("[A-Z][a-z]{0,5}\\*?"),
            any::<bool>(),
        )
            .prop_map(|(name, pattern, action, private, display, apply_pending)| {
                RuleSpec {
                    name,
                    pattern,
                    action,
                    private,
                    display,
                    apply_pending,
                }
            })
    }

    /// Quotes text with spaces.
    fn q(text: &str) -> String {
        if text.contains(' ') {
            format!("\"{text}\"")
        } else {
            text.to_string()
        }
    }

    fn render_channel(channel: &ChannelRef, bare: bool) -> String {
        match channel {
            ChannelRef::Name(n) if n.contains(' ') => format!("“{n}”"),
            ChannelRef::Name(n) if bare => n.clone(),
            ChannelRef::Name(n) => format!("~{n}"),
            ChannelRef::Link { team, channel } if bare => format!("{team}/{channel}"),
            ChannelRef::Link { team, channel } => {
                format!("https://chat.example.com/{team}/channels/{channel}/")
            }
        }
    }

    /// Renders a command the way a person might type it; `style` picks among equivalent forms.
    fn render(command: &Command, style: u8) -> String {
        let bare = style & 1 == 1;
        let keyword = |kw: &str| {
            if style & 2 == 2 {
                format!(" {kw}")
            } else {
                String::new()
            }
        };
        match command {
            Command::Help { topic: None } => "help".into(),
            Command::Help { topic: Some(t) } => format!("help {t}"),
            Command::Connect {
                name,
                display_name,
                policy,
                share,
            } => {
                let mut out = format!("connect {}", name.to_uppercase());
                if let Some(d) = display_name {
                    out.push_str(&format!(" \"{d}\""));
                }
                match (policy, bare) {
                    (PolicyArg::Review, true) => {}
                    (PolicyArg::Review, false) => out.push_str(" --review"),
                    (PolicyArg::AutoAccept { team }, true) => {
                        out.push_str(&format!(" --team={}", q(team)));
                    }
                    (PolicyArg::AutoAccept { team }, false) => {
                        out.push_str(&format!(" --auto-accept --team {}", q(team)));
                    }
                }
                if !share.is_empty() {
                    out.push_str(" --share");
                    for channel in share {
                        out.push(' ');
                        out.push_str(&render_channel(channel, bare));
                    }
                }
                out
            }
            Command::AcceptInvite => "accept-invite".into(),
            Command::Connections => "connections".into(),
            Command::Reinvite { name } => format!("reinvite {name}"),
            Command::Policy { name, policy } => match policy {
                PolicyArg::Review => format!("policy {name} review"),
                PolicyArg::AutoAccept { team } if bare => {
                    format!("policy {name} auto-accept {}", q(team))
                }
                PolicyArg::AutoAccept { team } => {
                    format!("policy {name} auto-accept --team {}", q(team))
                }
            },
            Command::Disconnect { name } => format!("disconnect {name}"),
            Command::Share { channel, with, .. } => format!(
                "share {}{} {with}",
                render_channel(channel, bare),
                keyword("with")
            ),
            Command::Unshare { channel, from } => format!(
                "unshare {}{} {from}",
                render_channel(channel, bare),
                keyword("from")
            ),
            Command::Shared { name: None } => "shared".into(),
            Command::Shared { name: Some(n) } => format!("shared {n}"),
            Command::Pending => "pending".into(),
            Command::Withdraw { number } => format!("withdraw {number}"),
            Command::Move { channel, team } => format!(
                "move {}{} {}",
                render_channel(channel, bare),
                keyword("to"),
                q(team)
            ),
            Command::Whois { user } if bare => format!("whois {user}"),
            Command::Whois { user } => format!("whois @{user}"),
            Command::Info { channel } => format!("info {}", render_channel(channel, bare)),
            Command::Audit { count, .. } => format!("audit {count}"),
            Command::Rules { name } => format!("rules {name}"),
            Command::RuleAdd(spec) => {
                let mut out = format!("rule add {} {}", spec.name, q(&spec.pattern));
                match &spec.action {
                    RuleArg::Accept { team } if bare => {
                        out.push_str(&format!(" accept --team={}", q(team)))
                    }
                    RuleArg::Accept { team } => {
                        out.push_str(&format!(" accept --team {}", q(team)))
                    }
                    RuleArg::Review { suggest: None } => out.push_str(" review"),
                    RuleArg::Review { suggest: Some(t) } => {
                        out.push_str(&format!(" review --suggest {}", q(t)))
                    }
                    RuleArg::Reject { reason: None } => out.push_str(" REJECT"),
                    RuleArg::Reject { reason: Some(r) } => {
                        out.push_str(&format!(" reject --reason \"{r}\""))
                    }
                }
                match spec.private {
                    Some(true) => out.push_str(" --private"),
                    Some(false) => out.push_str(" —public"),
                    None => {}
                }
                if let Some(display) = &spec.display {
                    out.push_str(&format!(" --display \"{display}\""));
                }
                if spec.apply_pending {
                    out.push_str(" --apply-pending");
                }
                out
            }
            Command::RuleRemove { name, n } => format!("rule remove {name} {n}"),
            Command::RuleMove { name, from, to } => format!("rule move {name} {from} {to}"),
            Command::RuleTest {
                name,
                channel,
                private,
            } => {
                let tilde = if bare { "" } else { "~" };
                let flag = if *private { " --private" } else { "" };
                if style & 2 == 2 {
                    format!("rule test{flag} {name} {tilde}{channel}")
                } else {
                    format!("rule test {name} {tilde}{channel}{flag}")
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn never_panics_on_any_string(text in any::<String>(), bot in any::<String>()) {
            check_any(&text)?;
            check_any_with(&text, &bot)?;
            check_any_with(&format!("@{bot}: {text}"), &bot)?;
        }

        #[test]
        fn never_panics_on_printable_text(text in "\\PC*") {
            check_any(&text)?;
            check_any(&format!("@sharebot {text}"))?;
        }

        #[test]
        fn never_panics_on_token_soup(text in soup()) {
            check_any(&text)?;
            check_any(&format!("@sharebot {text}"))?;
        }

        #[test]
        fn valid_commands_round_trip(command in command(), style in 0u8..4) {
            let text = format!("@sharebot {}", render(&command, style));
            prop_assert_eq!(parse(&text, BOT), Ok(Some(command)), "{}", text);
        }
    }
}
