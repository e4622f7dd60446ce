//! Typed Mattermost API v4 JSON shapes the bot reads and writes, with the server's own field names.
//!
//! Unknown fields are ignored and missing ones take their default, so a newer or older server
//! never breaks decoding; fields that Go encodes from slices, maps or pointers accept `null`.

mod actions;
mod core;
mod posts;
mod remote;

pub use self::actions::*;
pub use self::core::*;
pub use self::posts::*;
pub use self::remote::*;

use serde::{Deserialize, Deserializer};

/// Decodes `null` (which Go sends for a nil slice, map or pointer) as the type's default value.
pub(crate) fn nullable<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// For `skip_serializing_if`: leaves out empty strings so the server keeps its own default.
pub(crate) fn is_empty_str(s: &str) -> bool {
    s.is_empty()
}

/// For `skip_serializing_if` on `bool` fields that default to false.
pub(crate) fn is_false(b: &bool) -> bool {
    !*b
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn post_with_interactive_attachment_round_trips() {
        let raw = json!({
            "id": "p1", "create_at": 1, "update_at": 2, "edit_at": 0, "delete_at": 0,
            "user_id": "u1", "channel_id": "c1", "root_id": "", "message": "review",
            "type": "", "hashtags": "", "file_ids": null, "pending_post_id": "",
            "metadata": {"embeds": []}, "is_pinned": false, "reply_count": 0,
            "props": {
                "from_bot": "true",
                "attachments": [{
                    "text": "Channel shared by Org B",
                    "fields": null,
                    "actions": [{
                        "id": "accept", "type": "button", "name": "Accept", "style": "good",
                        "integration": {"url": "https://bot/actions", "context": {"sig": "x"}}
                    }, {
                        "id": "team", "type": "select", "name": "Team",
                        "options": [{"text": "Eng", "value": "t1"}], "default_option": "t1",
                        "integration": null
                    }]
                }]
            }
        });
        let post: Post = serde_json::from_value(raw).unwrap();
        assert_eq!(post.props.other.get("from_bot"), Some(&json!("true")));
        let actions = &post.props.attachments[0].actions;
        assert_eq!(actions[0].action_type, "button");
        let integration = actions[0].integration.as_ref().unwrap();
        assert_eq!(integration.context.get("sig"), Some(&json!("x")));
        assert_eq!(actions[1].options[0].value, "t1");
        assert!(actions[1].integration.is_none());
        assert!(post.file_ids.is_empty());

        let back = serde_json::to_value(&post).unwrap();
        assert_eq!(
            back["props"]["attachments"][0]["actions"][0]["style"],
            "good"
        );
        assert_eq!(back["props"]["from_bot"], "true");
        assert!(
            back.get("metadata").is_none(),
            "metadata is never sent back"
        );
    }

    #[test]
    fn malformed_attachments_do_not_fail_the_post() {
        let post: Post = serde_json::from_value(json!({
            "id": "p1", "message": "hi", "props": {"attachments": "not a list"}
        }))
        .unwrap();
        assert_eq!(post.message, "hi");
        assert!(post.props.attachments.is_empty());
        let post: Post = serde_json::from_value(json!({"id": "p2", "props": null})).unwrap();
        assert!(post.props.other.is_empty());
    }

    #[test]
    fn users_and_channels_tolerate_missing_and_unknown_fields() {
        let user: User = serde_json::from_value(json!({
            "id": "u1", "username": "alice", "roles": "system_user system_admin",
            "notify_props": {}, "brand_new_field": 1
        }))
        .unwrap();
        assert!(user.is_system_admin());
        assert!(user.is_active());
        let channel: Channel =
            serde_json::from_value(json!({"id": "c1", "type": "P", "shared": null})).unwrap();
        assert!(!channel.is_shared());
        assert_eq!(channel.channel_type, "P");
    }

    #[test]
    fn remote_cluster_states() {
        let mut rc: RemoteCluster = serde_json::from_value(json!({
            "remote_id": "r1", "name": "orgb", "site_url": "pending_abc",
            "last_ping_at": 1_000_000, "options": 0, "token": "never-kept"
        }))
        .unwrap();
        assert!(!rc.is_confirmed());
        rc.site_url = "https://b.example.com".into();
        assert!(rc.is_confirmed());
        assert!(rc.is_online(1_000_000 + REMOTE_OFFLINE_AFTER_MS - 1));
        assert!(!rc.is_online(1_000_000 + REMOTE_OFFLINE_AFTER_MS));
        let scr: SharedChannelRemote =
            serde_json::from_value(json!({"id": "s", "last_post_create_at": 12})).unwrap();
        assert_eq!(scr.last_post_create_at, 12);
    }

    #[test]
    fn secrets_are_not_in_debug_output() {
        let accept = AcceptInvite {
            invite: "INVITECODE".into(),
            password: "hunter2".into(),
            name: "orgb".into(),
            ..Default::default()
        };
        let created = RemoteClusterWithInvite {
            invite: "INVITECODE".into(),
            password: "hunter2".into(),
            ..Default::default()
        };
        let new = NewRemoteCluster {
            password: "hunter2".into(),
            ..Default::default()
        };
        let mut submission = serde_json::Map::new();
        submission.insert("password".into(), json!("hunter2"));
        let submit = SubmitDialogRequest {
            submission,
            ..Default::default()
        };
        for shown in [
            format!("{accept:?}"),
            format!("{created:?}"),
            format!("{new:?}"),
            format!("{submit:?}"),
        ] {
            assert!(!shown.contains("hunter2"), "{shown}");
            assert!(!shown.contains("INVITECODE"), "{shown}");
        }
    }

    #[test]
    fn requests_leave_out_unset_optional_fields() {
        let body = serde_json::to_value(NewRemoteCluster {
            name: "orgb".into(),
            default_team_id: "t1".into(),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(body, json!({"name": "orgb", "default_team_id": "t1"}));
        let patch = serde_json::to_value(PostPatch {
            message: Some("done".into()),
            props: None,
        })
        .unwrap();
        assert_eq!(patch, json!({"message": "done"}));
        let dialog: SubmitDialogRequest = serde_json::from_value(json!({
            "type": "dialog_submission", "callback_id": "accept", "state": "s",
            "submission": {"invite": "x", "remember": true}, "cancelled": false
        }))
        .unwrap();
        assert_eq!(dialog.submission["remember"], json!(true));
    }
}
