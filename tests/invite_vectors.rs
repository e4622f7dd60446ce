//! Invite codes made by an independent implementation of Mattermost's algorithm
//! (`tests/fixtures/make_invite_vectors.py`) open here with the right fields, and not with a
//! wrong password.

use sharebot::sandbox::invite_code::{decrypt, InviteError};

#[test]
fn committed_vectors_decrypt_to_their_fields() {
    let vectors: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/invite_vectors.json")).unwrap();
    let vectors = vectors.as_array().unwrap();
    assert_eq!(vectors.len(), 2);
    for v in vectors {
        let code = v["code"].as_str().unwrap();
        let password = v["password"].as_str().unwrap();
        let invite = decrypt(code, password).unwrap_or_else(|e| panic!("{}: {e}", v["name"]));
        let expected = &v["invite"];
        assert_eq!(invite.remote_id, expected["remote_id"].as_str().unwrap());
        assert_eq!(
            invite.remote_team_id,
            expected["remote_team_id"].as_str().unwrap()
        );
        assert_eq!(invite.site_url, expected["site_url"].as_str().unwrap());
        assert_eq!(invite.token, expected["token"].as_str().unwrap());
        assert_eq!(invite.version, expected["version"].as_i64().unwrap_or(0));
        assert_eq!(
            decrypt(code, "not the password"),
            Err(InviteError::Decrypt),
            "{}",
            v["name"]
        );
    }
}
