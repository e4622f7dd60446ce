//! The demo's transcript: who did what, and posts drawn as an admin sees them (the message,
//! then each attachment in a box with its menu and buttons).

use crate::mattermost::models::Post;

/// The widest a drawn box gets.
const WIDTH: usize = 76;

/// A step heading.
pub fn step(number: usize, title: &str) {
    println!();
    println!("━━ {number}. {title}");
}

/// Someone does something: `Org A · @sysadmin  …`.
pub fn act(org: &str, who: &str, what: &str) {
    println!("  {org} · @{who}  {what}");
}

/// What the bot answered, or what someone saw, indented under the action.
pub fn shows(org: &str, who: &str, text: &str) {
    println!("  {org} · {who} sees:");
    for line in text.lines() {
        println!("      {line}");
    }
}

/// A line of narration.
pub fn note(text: &str) {
    println!("  {text}");
}

/// Splits `text` into lines at most `width` characters wide, at spaces where it can.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut out = Vec::new();
    for raw in text.lines() {
        let mut line = String::new();
        for word in raw.split(' ') {
            let fits = line.chars().count() + word.chars().count() < width;
            if !line.is_empty() && !fits {
                out.push(std::mem::take(&mut line));
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
            while line.chars().count() > width {
                let head: String = line.chars().take(width).collect();
                let tail: String = line.chars().skip(width).collect();
                out.push(head);
                line = tail;
            }
        }
        out.push(line);
    }
    out
}

/// A post as text: its message, then each attachment boxed, with `[ Team ▾ ]` menus and
/// `[ Accept ]` buttons.
pub fn post(post: &Post) -> String {
    let mut out = String::new();
    if !post.message.is_empty() {
        out.push_str(&post.message);
        out.push('\n');
    }
    let inner = WIDTH - 4;
    for attachment in &post.props.attachments {
        out.push_str(&format!("┌{}┐\n", "─".repeat(inner + 2)));
        for line in wrap(&attachment.text, inner) {
            let pad = inner.saturating_sub(line.chars().count());
            out.push_str(&format!("│ {line}{} │\n", " ".repeat(pad)));
        }
        if !attachment.actions.is_empty() {
            let controls: Vec<String> = attachment
                .actions
                .iter()
                .map(|a| {
                    if a.action_type == "select" {
                        let chosen = a
                            .options
                            .iter()
                            .find(|o| o.value == a.default_option)
                            .map(|o| o.text.as_str())
                            .unwrap_or("choose…");
                        format!("[ {}: {chosen} ▾ ]", a.name)
                    } else {
                        format!("[ {} ]", a.name)
                    }
                })
                .collect();
            out.push_str(&format!("│{}│\n", " ".repeat(inner + 2)));
            for line in wrap(&controls.join(" "), inner) {
                let pad = inner.saturating_sub(line.chars().count());
                out.push_str(&format!("│ {line}{} │\n", " ".repeat(pad)));
            }
        }
        out.push_str(&format!("└{}┘\n", "─".repeat(inner + 2)));
    }
    out.trim_end().to_string()
}

/// `abcdefgh… (412 characters)`: enough to recognise a secret, not to use it.
pub fn redact(secret: &str) -> String {
    let head: String = secret.chars().take(6).collect();
    format!(
        "{head}… ({} characters, shown in full only in the DM)",
        secret.chars().count()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mattermost::models::{MessageAttachment, PostAction, PostActionOption, PostProps};

    #[test]
    fn long_lines_wrap_and_words_stay_whole() {
        assert_eq!(wrap("one two three", 8), ["one two", "three"]);
        assert_eq!(wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        assert_eq!(wrap("a\nb", 10), ["a", "b"]);
    }

    #[test]
    fn a_post_draws_its_menu_and_buttons() {
        let post = Post {
            props: PostProps {
                attachments: vec![MessageAttachment {
                    text: "Org B shares Launch plan".into(),
                    actions: vec![
                        PostAction {
                            action_type: "select".into(),
                            name: "Team".into(),
                            default_option: "t2".into(),
                            options: vec![
                                PostActionOption {
                                    text: "Engineering".into(),
                                    value: "t1".into(),
                                },
                                PostActionOption {
                                    text: "Marketing".into(),
                                    value: "t2".into(),
                                },
                            ],
                            ..PostAction::default()
                        },
                        PostAction {
                            action_type: "button".into(),
                            name: "Accept".into(),
                            ..PostAction::default()
                        },
                    ],
                    ..MessageAttachment::default()
                }],
                ..PostProps::default()
            },
            ..Post::default()
        };
        let drawn = super::post(&post);
        assert!(drawn.contains("│ Org B shares Launch plan"), "{drawn}");
        assert!(
            drawn.contains("[ Team: Marketing ▾ ] [ Accept ]"),
            "{drawn}"
        );
        assert!(drawn.starts_with('┌') && drawn.ends_with('┘'), "{drawn}");
    }

    #[test]
    fn secrets_are_shown_by_their_start_and_length_only() {
        assert_eq!(
            redact("abcdefghijkl"),
            "abcdef… (12 characters, shown in full only in the DM)"
        );
    }
}
