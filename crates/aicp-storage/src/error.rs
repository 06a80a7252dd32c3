//! Mapping of driver errors to the domain's [`RepoError`], kept private to the adapter
//! (the orphan rule forbids `From` impls between foreign types).

use aicp_domain::RepoError;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

/// Whether a query error means the database (not the query) is the problem, so that a retry of
/// the same work later can succeed.
pub(crate) fn is_transient(e: &DieselError) -> bool {
    match e {
        DieselError::DatabaseError(kind, info) => {
            matches!(
                kind,
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::SerializationFailure
            ) || {
                let msg = info.message();
                // A backend killed mid-statement (pg_terminate_backend, kill -9, failover)
                // reaches diesel-async as a closed connection without an SQLSTATE.
                msg.contains("connection closed")
                    || msg.contains("server closed the connection")
                    || msg.contains("terminating connection")
                    || msg.contains("the database system is")
                    || msg.contains("deadlock detected")
                    || msg.contains("too many connections")
            }
        }
        DieselError::BrokenTransactionManager => true,
        _ => false,
    }
}

/// A query failure.
pub(crate) fn from_query(e: DieselError) -> RepoError {
    if is_transient(&e) {
        RepoError::Unavailable(e.to_string())
    } else {
        RepoError::Unexpected(anyhow::Error::new(e).context("database query failed"))
    }
}

/// Whether PostgreSQL aborted the statement to resolve a deadlock or serialization conflict.
pub(crate) fn is_conflict(e: &DieselError) -> bool {
    matches!(e, DieselError::DatabaseError(DatabaseErrorKind::SerializationFailure, _))
        || matches!(e, DieselError::DatabaseError(_, info) if info.message().contains("deadlock detected"))
}
