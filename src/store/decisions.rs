//! What is decided about a review request, how and by whom, as types: their text in the
//! database (`review_requests.deciding`, `decided_by`) and in the audit log is made here only.

use super::{RequestState, StoreError};

/// The actor recorded for what sharebot decides itself (auto-accept, expiry, withdrawal).
pub const SHAREBOT: &str = "sharebot";

/// What a decision does with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Into a team (the request's `team_id`): every member joins it, then the channel moves.
    Accept,
    /// Declined: a notice in the channel, then it is unshared and archived.
    Reject,
    /// An accepted channel moves to another team (recorded apart, never claimed as `deciding`).
    Relocate,
    /// The sender stopped sharing before anyone decided: sharebot closes the request.
    Withdraw,
}

impl Verdict {
    /// The state a request is in once this verdict is carried out.
    pub fn settles_as(self) -> RequestState {
        match self {
            Verdict::Accept | Verdict::Relocate => RequestState::Accepted,
            Verdict::Reject => RequestState::Rejected,
            Verdict::Withdraw => RequestState::Withdrawn,
        }
    }

    /// The verb: `review_requests.deciding`, the action of a failure's audit row and of the
    /// `decision_failed` message.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Accept => "accept",
            Verdict::Reject => "reject",
            Verdict::Relocate => "relocate",
            Verdict::Withdraw => "withdraw",
        }
    }

    pub(super) fn parse(s: &str) -> Result<Verdict, StoreError> {
        Ok(match s {
            "accept" => Verdict::Accept,
            "reject" => Verdict::Reject,
            "relocate" => Verdict::Relocate,
            "withdraw" => Verdict::Withdraw,
            other => {
                return Err(StoreError::Corrupt {
                    column: "review_requests.deciding",
                    value: other.to_string(),
                })
            }
        })
    }

    /// The audit log's action for this verdict made `how`.
    pub fn audit_action(self, how: How) -> &'static str {
        match (self, how) {
            (Verdict::Accept, How::Rule) => "request.auto_accepted",
            (Verdict::Accept, _) => "request.accepted",
            (Verdict::Reject, How::Expiry) => "request.expired",
            (Verdict::Reject, _) => "request.rejected",
            (Verdict::Relocate, _) => "request.relocated",
            (Verdict::Withdraw, _) => "request.withdrawn",
        }
    }

    /// The audit log's action when carrying this verdict out failed.
    pub fn failed_audit_action(self) -> &'static str {
        match self {
            Verdict::Accept => "request.accept_failed",
            Verdict::Reject => "request.reject_failed",
            Verdict::Relocate => "request.relocate_failed",
            Verdict::Withdraw => "request.withdraw_failed",
        }
    }
}

/// How a decision was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum How {
    /// A button in a review DM.
    Click,
    /// The "Choose team…" dialog.
    Dialog,
    /// A rule, such as a connection's auto-accept policy.
    Rule,
    /// Nobody decided in time: the request expired.
    Expiry,
    /// The sender stopped sharing before anyone decided.
    Withdrawal,
}

impl How {
    /// How it is named in metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            How::Click => "click",
            How::Dialog => "dialog",
            How::Rule => "rule",
            How::Expiry => "expiry",
            How::Withdrawal => "withdrawal",
        }
    }
}

/// Who made a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decider {
    /// A system admin, by user id.
    Admin(String),
    /// sharebot itself (a rule, an expiry).
    Sharebot,
}

impl Decider {
    /// The user id stored in `decided_by` and written as the audit log's actor.
    pub fn as_str(&self) -> &str {
        match self {
            Decider::Admin(id) => id,
            Decider::Sharebot => SHAREBOT,
        }
    }

    /// The admin's user id; `None` for sharebot.
    pub fn admin(&self) -> Option<&str> {
        match self {
            Decider::Admin(id) => Some(id),
            Decider::Sharebot => None,
        }
    }

    pub(super) fn parse(s: String) -> Decider {
        if s == SHAREBOT {
            Decider::Sharebot
        } else {
            Decider::Admin(s)
        }
    }
}

/// A decision claimed for a pending request, while it is carried out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim<'a> {
    pub verdict: Verdict,
    /// Not stored: the database tells only an admin's decision from sharebot's.
    pub how: How,
    pub by: Decider,
    pub team_id: Option<&'a str>,
    pub note: Option<&'a str>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_text_reads_back_as_the_same_kind() {
        for verdict in [
            Verdict::Accept,
            Verdict::Reject,
            Verdict::Relocate,
            Verdict::Withdraw,
        ] {
            assert_eq!(Verdict::parse(verdict.as_str()).unwrap(), verdict);
        }
        assert_eq!(Verdict::Accept.as_str(), "accept");
        assert_eq!(Verdict::Reject.as_str(), "reject");
        assert!(Verdict::parse("approve").is_err());
        assert_eq!(Decider::parse("sharebot".into()), Decider::Sharebot);
        assert_eq!(Decider::parse("u1".into()), Decider::Admin("u1".into()));
        assert_eq!(Decider::Sharebot.as_str(), "sharebot");
    }

    #[test]
    fn audit_actions_keep_their_names() {
        assert_eq!(Verdict::Accept.audit_action(How::Click), "request.accepted");
        assert_eq!(
            Verdict::Accept.audit_action(How::Rule),
            "request.auto_accepted"
        );
        assert_eq!(Verdict::Reject.audit_action(How::Expiry), "request.expired");
        assert_eq!(Verdict::Reject.audit_action(How::Click), "request.rejected");
        assert_eq!(
            Verdict::Withdraw.audit_action(How::Withdrawal),
            "request.withdrawn"
        );
        assert_eq!(
            Verdict::Relocate.failed_audit_action(),
            "request.relocate_failed"
        );
    }
}
