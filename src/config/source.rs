//! Gathers raw configuration values from bot.toml, the environment and secret files, refusing
//! unknown keys and secrets written inline.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use super::keys::{self, KeySpec, KEYS};
use super::{ConfigError, Scope};

/// Where a value came from (shown by `check-config`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    File(PathBuf),
    Env(String),
    /// Read from the file named by `<key>_file`.
    SecretFile(PathBuf),
    Default,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File(p) => write!(f, "{}", p.display()),
            Origin::Env(v) => write!(f, "env {v}"),
            Origin::SecretFile(p) => write!(f, "file {}", p.display()),
            Origin::Default => f.write_str("default"),
        }
    }
}

/// A value as text, with its origin.
#[derive(Clone, Debug)]
pub struct Raw {
    pub value: String,
    pub origin: Origin,
}

/// Raw values by `section.key` (secrets already read from their files).
pub type RawValues = BTreeMap<String, Raw>;

/// Reads the file (if any) and the environment into raw values, collecting every error; the
/// values that could be read are returned too, so that they can be checked as well. Keys
/// outside `scope` are neither required nor read (their secret files are not opened), but
/// unknown keys and secrets written inline are refused whatever the scope.
pub fn gather(
    file: Option<&Path>,
    env: &HashMap<String, String>,
    scope: Scope,
) -> (RawValues, Vec<ConfigError>) {
    let mut errors = Vec::new();
    // Values keyed by the name as written, which may be `<secret>_file`.
    let mut written: BTreeMap<(String, String), Raw> = BTreeMap::new();

    // When the file cannot be read or parsed, what it would have set is unknown: "is
    // required" errors would only follow from that one failure, so they are left out.
    let mut file_failed = false;
    if let Some(path) = file {
        match std::fs::read_to_string(path) {
            Ok(text) => file_failed = !read_toml(path, &text, &mut written, &mut errors),
            Err(err) => {
                file_failed = true;
                errors.push(ConfigError::new(
                    "--config",
                    format!("cannot read {}: {err}", path.display()),
                ))
            }
        }
    }
    read_env(env, &mut written, &mut errors);

    let mut values = RawValues::new();
    for spec in KEYS.iter().filter(|spec| scope.covers(spec.section)) {
        let direct = written.get(&(spec.section.to_string(), spec.key.to_string()));
        let via_file = spec
            .secret
            .then(|| written.get(&(spec.section.to_string(), format!("{}_file", spec.key))))
            .flatten();
        let raw = match (direct, via_file) {
            (Some(_), Some(_)) => {
                errors.push(ConfigError::new(
                    spec.path(),
                    format!(
                        "is set both directly and through {}_file; set only one of {} or {}_FILE",
                        spec.key,
                        spec.env_var(),
                        spec.env_var()
                    ),
                ));
                continue;
            }
            (Some(raw), None) => Some(raw.clone()),
            (None, Some(pointer)) => match read_secret_file(spec, &pointer.value) {
                Ok(raw) => Some(raw),
                Err(err) => {
                    errors.push(err);
                    continue;
                }
            },
            (None, None) => spec.default.map(|d| Raw {
                value: d.to_string(),
                origin: Origin::Default,
            }),
        };
        match raw {
            Some(raw) => {
                values.insert(spec.path(), raw);
            }
            None if spec.required && !file_failed => {
                errors.push(ConfigError::new(spec.path(), missing_hint(spec)))
            }
            None => {}
        }
    }

    (values, errors)
}

fn missing_hint(spec: &KeySpec) -> String {
    if spec.secret {
        format!(
            "is required ({}); set the environment variable {} or point {}_file at a file holding it",
            spec.help,
            spec.env_var(),
            spec.path()
        )
    } else {
        format!(
            "is required ({}); set it in bot.toml under [{}] or with {}",
            spec.help,
            spec.section,
            spec.env_var()
        )
    }
}

fn read_secret_file(spec: &KeySpec, path: &str) -> Result<Raw, ConfigError> {
    let key = format!("{}_file", spec.path());
    let text = std::fs::read_to_string(path).map_err(|err| {
        ConfigError::new(&key, format!("cannot read the secret file {path}: {err}"))
    })?;
    let value = text.trim_end_matches(['\n', '\r']).to_string();
    if value.trim().is_empty() {
        return Err(ConfigError::new(
            &key,
            format!("the secret file {path} is empty"),
        ));
    }
    Ok(Raw {
        value,
        origin: Origin::SecretFile(PathBuf::from(path)),
    })
}

/// Reads the file's keys into `written`; false when the text is not TOML at all.
fn read_toml(
    path: &Path,
    text: &str,
    written: &mut BTreeMap<(String, String), Raw>,
    errors: &mut Vec<ConfigError>,
) -> bool {
    let table: toml::Table = match text.parse() {
        Ok(t) => t,
        Err(err) => {
            errors.push(ConfigError::new(
                "--config",
                toml_failure(path, text, err.span(), err.message()),
            ));
            return false;
        }
    };
    let sections = keys::sections();
    for (section, value) in table {
        if !sections.contains(&section.as_str()) {
            let hint = keys::nearest(&section, sections.iter().copied())
                .map(|n| format!(" (did you mean [{n}]?)"))
                .unwrap_or_default();
            errors.push(ConfigError::new(
                &section,
                format!(
                    "unknown section [{section}]{hint}; valid sections: {}",
                    sections.join(", ")
                ),
            ));
            continue;
        }
        let toml::Value::Table(entries) = value else {
            errors.push(ConfigError::new(
                &section,
                format!("must be a table: write [{section}] and its keys below it"),
            ));
            continue;
        };
        for (key, value) in entries {
            let path_key = format!("{section}.{key}");
            let Some(is_secret) = accepted(&section, &key) else {
                errors.push(unknown_key(&section, &key, &path_key));
                continue;
            };
            if is_secret {
                let spec = keys::find(&section, &key);
                let env = spec.map(|s| s.env_var()).unwrap_or_default();
                errors.push(ConfigError::new(
                    &path_key,
                    format!(
                        "is a secret and must not be written in bot.toml; remove it and set the environment variable {env}, or set {path_key}_file to the path of a file holding it"
                    ),
                ));
                continue;
            }
            let text = match value {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Float(f) => f.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                // A list of names (`approvers = ["system_admin", …]`) is read as its names
                // separated by commas, as the environment variable writes it.
                toml::Value::Array(items) if items.iter().all(toml::Value::is_str) => items
                    .iter()
                    .filter_map(toml::Value::as_str)
                    .collect::<Vec<_>>()
                    .join(","),
                other => {
                    errors.push(ConfigError::new(
                        &path_key,
                        format!("must be a string or a number, not a {}", other.type_str()),
                    ));
                    continue;
                }
            };
            written.insert(
                (section.clone(), key.clone()),
                Raw {
                    value: text,
                    origin: Origin::File(path.to_path_buf()),
                },
            );
        }
    }
    true
}

/// `FILE:LINE:COLUMN: not valid TOML: why`, then the line with a caret under the place (the
/// line is left out when it may hold a secret).
fn toml_failure(
    path: &Path,
    text: &str,
    span: Option<std::ops::Range<usize>>,
    message: &str,
) -> String {
    let Some(start) = span.map(|s| s.start.min(text.len())) else {
        return format!("{} is not valid TOML: {message}", path.display());
    };
    let before = text.get(..start).unwrap_or(text);
    let line_no = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    let line = text[line_start..].lines().next().unwrap_or("");
    let mut out = format!(
        "{}:{line_no}:{column}: not valid TOML: {}",
        path.display(),
        message.trim_end()
    );
    let lower = line.to_ascii_lowercase();
    let may_hold_secret = ["token", "secret", "password"]
        .iter()
        .any(|word| lower.contains(word))
        || (lower.contains("://") && lower.contains('@'));
    if !may_hold_secret {
        let gutter = line_no.to_string().len();
        out.push_str(&format!(
            "\n      {line_no} | {line}\n      {:gutter$} | {:>column$}",
            "", "^"
        ));
    }
    out
}

/// `Some(is_inline_secret)` when `section.key` is accepted, `None` when unknown.
fn accepted(section: &str, key: &str) -> Option<bool> {
    if let Some(spec) = keys::find(section, key) {
        return Some(spec.secret);
    }
    let base = key.strip_suffix("_file")?;
    keys::find(section, base)
        .filter(|s| s.secret)
        .map(|_| false)
}

fn unknown_key(section: &str, key: &str, shown: &str) -> ConfigError {
    let names = keys::names_in(section);
    let hint = keys::nearest(key, names.iter().map(String::as_str))
        .map(|n| format!(" (did you mean `{section}.{n}`?)"))
        .unwrap_or_default();
    ConfigError::new(
        shown,
        format!(
            "unknown key{hint}; valid keys in [{section}]: {}",
            names.join(", ")
        ),
    )
}

fn read_env(
    env: &HashMap<String, String>,
    written: &mut BTreeMap<(String, String), Raw>,
    errors: &mut Vec<ConfigError>,
) {
    let mut vars: Vec<(&String, &String)> = env.iter().collect();
    vars.sort();
    for (name, value) in vars {
        // Only SHAREBOT_<SECTION>__<KEY> configures the bot; other SHAREBOT_* variables
        // (SHAREBOT_CONFIG, SHAREBOT_TEST_DATABASE_URL, …) belong to other tools.
        let Some(rest) = name.strip_prefix("SHAREBOT_") else {
            continue;
        };
        let Some((section, key)) = rest.split_once("__") else {
            continue;
        };
        let (section, key) = (section.to_ascii_lowercase(), key.to_ascii_lowercase());
        let sections = keys::sections();
        if !sections.contains(&section.as_str()) {
            let hint = keys::nearest(&section, sections.iter().copied())
                .map(|n| format!(" (did you mean {}?)", keys::env_var(n, &key)))
                .unwrap_or_default();
            errors.push(ConfigError::new(
                name,
                format!("unknown section `{section}`{hint}"),
            ));
            continue;
        }
        if accepted(&section, &key).is_none() {
            let names = keys::names_in(&section);
            let hint = keys::nearest(&key, names.iter().map(String::as_str))
                .map(|n| format!(" (did you mean {}?)", keys::env_var(&section, n)))
                .unwrap_or_default();
            errors.push(ConfigError::new(
                name,
                format!("unknown key `{section}.{key}`{hint}"),
            ));
            continue;
        }
        written.insert(
            (section, key),
            Raw {
                value: value.clone(),
                origin: Origin::Env(name.clone()),
            },
        );
    }
}
