//! Building API paths from route templates: ids are validated, other segments percent-encoded.
//!
//! The template (`/api/v4/users/{user_id}`) is kept beside the real path so logs and metrics
//! group calls by route without leaking ids or names.

use super::error::{Error, Result};

/// A concrete API path plus the template it was built from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Route {
    pub(crate) template: &'static str,
    pub(crate) path: String,
}

impl Route {
    /// A route without parameters.
    pub(crate) fn fixed(template: &'static str) -> Route {
        Route {
            template,
            path: template.to_owned(),
        }
    }

    /// Fills the `{…}` placeholders of `template` with `args`, in order. Placeholders named
    /// `…_id` only accept `[A-Za-z0-9]+` (the server's router refuses anything else); the others
    /// (names) must be non-empty and are percent-encoded as one path segment.
    pub(crate) fn new(template: &'static str, args: &[&str]) -> Result<Route> {
        let mut path = String::with_capacity(template.len() + 32);
        let mut rest = template;
        let mut args = args.iter();
        while let Some(open) = rest.find('{') {
            path.push_str(&rest[..open]);
            let close = rest[open..]
                .find('}')
                .map(|c| open + c)
                .ok_or_else(|| Error::InvalidInput(format!("bad route template {template}")))?;
            let name = &rest[open + 1..close];
            let value = args
                .next()
                .ok_or_else(|| Error::InvalidInput(format!("missing {name} for {template}")))?;
            if name.ends_with("_id") {
                validate_id(name, value)?;
                path.push_str(value);
            } else {
                if value.is_empty() {
                    return Err(Error::InvalidInput(format!("{name} must not be empty")));
                }
                encode_segment(value, &mut path);
            }
            rest = &rest[close + 1..];
        }
        path.push_str(rest);
        if args.next().is_some() {
            return Err(Error::InvalidInput(format!(
                "too many arguments for {template}"
            )));
        }
        Ok(Route { template, path })
    }
}

/// Checks an id the way the server's router does before it is put into a path or body.
pub(crate) fn validate_id(what: &str, value: &str) -> Result<()> {
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(())
    } else {
        Err(Error::InvalidInput(format!(
            "{what} must be letters and digits only, got {:?}",
            truncate(value, 40)
        )))
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn encode_segment(value: &str, out: &mut String) {
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_ids_and_encodes_names() {
        let r = Route::new(
            "/api/v4/teams/name/{team_name}/channels/name/{channel_name}",
            &["my team", "a/b?c%"],
        )
        .unwrap();
        assert_eq!(
            r.path,
            "/api/v4/teams/name/my%20team/channels/name/a%2Fb%3Fc%25"
        );
        assert_eq!(
            r.template,
            "/api/v4/teams/name/{team_name}/channels/name/{channel_name}"
        );
        let r = Route::new("/api/v4/users/{user_id}", &["abc123"]).unwrap();
        assert_eq!(r.path, "/api/v4/users/abc123");
    }

    #[test]
    fn rejects_bad_ids() {
        for bad in ["", "../admin", "abc def", "a/b", "é"] {
            assert!(matches!(
                Route::new("/api/v4/users/{user_id}", &[bad]),
                Err(Error::InvalidInput(_))
            ));
        }
        assert!(Route::new("/api/v4/users/username/{username}", &[""]).is_err());
    }

    #[test]
    fn argument_count_must_match() {
        assert!(Route::new("/api/v4/users/{user_id}", &[]).is_err());
        assert!(Route::new("/api/v4/users/{user_id}", &["a", "b"]).is_err());
    }
}
