//! How Redis failures become [`AdapterError`]s.

use std::fmt;
use std::time::Duration;

use portcullis::adapter::AdapterError;
use redis::{ErrorKind, RedisError, ServerErrorKind};

/// A failure of this crate's own, carried as the source of an [`AdapterError`] (driver
/// failures are carried as the [`redis::RedisError`] itself).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RedisStoreError {
    /// Redis did not answer within the adapter's deadline
    /// ([`RedisAdapter::with_timeout`](crate::RedisAdapter::with_timeout)): the server is
    /// hung, overloaded, or unreachable without a prompt refusal. Reported as
    /// [`AdapterError::Unavailable`].
    Timeout {
        /// The deadline that passed.
        after: Duration,
    },
    /// A stored record could not be read back: a missing or malformed field, or a key of
    /// the wrong type. Likely cause: something other than this adapter wrote under its
    /// prefix. Reported as [`AdapterError::Other`].
    MalformedRecord {
        /// Which kind of record.
        kind: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// A token hash that is not 64 lowercase hex characters was given to
    /// `create_session` or `create_verification_token` (a `TokenHash` deserialized from
    /// untrusted input). It never becomes part of a key. Reported as [`AdapterError::Other`].
    InvalidTokenHash,
    /// [`RedisAdapter::connect_lazy`](crate::RedisAdapter::connect_lazy) was called outside
    /// a Tokio runtime (the connection needs one to run its background task). Reported as
    /// [`AdapterError::Other`].
    NoRuntime,
}

impl fmt::Display for RedisStoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Timeout { after } => write!(f, "redis did not answer within {after:?}"),
            Self::MalformedRecord { kind, detail } => {
                write!(f, "malformed {kind} record: {detail}")
            }
            Self::InvalidTokenHash => f.write_str("token hash is not 64 lowercase hex characters"),
            Self::NoRuntime => f.write_str("not called from within a Tokio runtime"),
        }
    }
}

impl std::error::Error for RedisStoreError {}

/// Whether a driver error means "the store cannot be reached now" rather than a logical
/// failure: I/O (refused, reset, timed out, dropped), a server still loading its data, a
/// cluster or a primary that is down, a replica that turned read-only in a failover.
pub(crate) fn is_outage(e: &RedisError) -> bool {
    e.is_io_error()
        || e.is_connection_refusal()
        || e.is_timeout()
        || e.is_connection_dropped()
        || matches!(
            e.kind(),
            ErrorKind::Server(
                ServerErrorKind::BusyLoading
                    | ServerErrorKind::ClusterDown
                    | ServerErrorKind::MasterDown
                    | ServerErrorKind::TryAgain
                    | ServerErrorKind::ReadOnly
            ) | ErrorKind::ClusterConnectionNotFound
                | ErrorKind::MasterNameNotFoundBySentinel
                | ErrorKind::NoValidReplicasFoundBySentinel
        )
}

/// Classifies a driver error, keeping it as the source.
pub(crate) fn from_redis(e: RedisError) -> AdapterError {
    if is_outage(&e) {
        tracing::debug!(error = %e, "redis unavailable");
        AdapterError::unavailable(e)
    } else {
        AdapterError::other(e)
    }
}

/// A malformed stored record.
pub(crate) fn malformed(kind: &'static str, detail: impl Into<String>) -> AdapterError {
    AdapterError::other(RedisStoreError::MalformedRecord {
        kind,
        detail: detail.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_are_outages_and_others_are_not() {
        let refused = RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(from_redis(refused).is_unavailable());
        let reset = RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        assert!(from_redis(reset).is_unavailable());
        let timed_out = RedisError::from(std::io::Error::from(std::io::ErrorKind::TimedOut));
        assert!(from_redis(timed_out).is_unavailable());
        let type_error = RedisError::from((ErrorKind::UnexpectedReturnType, "wrong type"));
        let e = from_redis(type_error);
        assert!(matches!(e, AdapterError::Other(_)));
        // The driver error is the source, not a stringified copy.
        let source = std::error::Error::source(&e).and_then(|s| s.downcast_ref::<RedisError>());
        assert!(source.is_some());
    }
}
