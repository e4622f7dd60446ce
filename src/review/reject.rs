//! Rejecting a request with a reason: the one way in for a click, a dialog and a rule.

use crate::metrics::Metrics;
use crate::store::{Claim, Decider, Decision, How, Verdict};

use super::{Review, ReviewError};

/// The longest reason a reject carries, in characters (the dialogs' `max_length`).
pub const REASON_MAX: usize = 500;

/// `reason` trimmed, `None` when empty; refused when longer than [`REASON_MAX`].
pub fn reason(reason: Option<&str>) -> Result<Option<&str>, ReviewError> {
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    match reason {
        Some(r) if r.chars().count() > REASON_MAX => Err(ReviewError::Refused(format!(
            "a reason is at most {REASON_MAX} characters"
        ))),
        _ => Ok(reason),
    }
}

impl Review {
    /// Claims a reject of `request_id` for `by`, made `how`, with `reason` (kept as the
    /// request's note: the notice in the channel quotes it to the sending side and every
    /// copy of the review DM shows it), then carries it out in the background. A request
    /// decided meanwhile is answered [`Decision::AlreadyDecided`] and left as it is.
    pub async fn reject(
        &self,
        request_id: &str,
        by: Decider,
        how: How,
        reason: Option<&str>,
    ) -> Result<Decision, ReviewError> {
        let note = self::reason(reason)?;
        let claim = Claim {
            verdict: Verdict::Reject,
            how,
            by,
            team_id: None,
            note,
        };
        self.begin(request_id, &claim).await
    }

    /// Claims `claim` for `request_id`; when this call won it, counts it and applies it in the
    /// background.
    pub(super) async fn begin(
        &self,
        request_id: &str,
        claim: &Claim<'_>,
    ) -> Result<Decision, ReviewError> {
        let decision = self.ctx.store.begin_decision(request_id, claim).await?;
        if let Decision::Made(made) = &decision {
            let waited = Metrics::since(made.created_at);
            self.ctx.metrics.decision(claim.verdict, claim.how, waited);
            self.spawn_apply(made.id.clone());
        }
        Ok(decision)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reason_is_trimmed_and_at_most_500_characters() {
        assert_eq!(reason(None).unwrap(), None);
        assert_eq!(reason(Some("   ")).unwrap(), None);
        assert_eq!(reason(Some(" not for us ")).unwrap(), Some("not for us"));
        let longest = "é".repeat(REASON_MAX);
        assert_eq!(reason(Some(&longest)).unwrap(), Some(longest.as_str()));
        let err = reason(Some(&"é".repeat(REASON_MAX + 1))).unwrap_err();
        assert_eq!(err.user_message(), "a reason is at most 500 characters");
    }
}
