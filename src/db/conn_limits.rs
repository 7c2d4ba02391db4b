//! How many more connections the server lets this session's role open on
//! its database: `max_connections` less the slots reserved for superusers
//! and those in use, and the role's and the database's `CONNECTION LIMIT`.
//! Read up front, so a command needing N connections is refused before it
//! changes anything rather than failing halfway.

use tokio_postgres::Client;

/// One limit on new connections.
#[derive(Debug, Clone, PartialEq)]
pub struct Limit {
    /// What sets it, for messages ("max_connections 300", "role app's CONNECTION LIMIT 5").
    pub what: String,
    /// Connections of its kind open now (this session included).
    pub in_use: i64,
    /// How many it allows in all.
    pub allowed: i64,
}

impl Limit {
    fn left(&self) -> i64 {
        (self.allowed - self.in_use).max(0)
    }
}

/// The limits that apply to this session's role on its database.
#[derive(Debug, Clone, PartialEq)]
pub struct Room {
    pub limits: Vec<Limit>,
}

impl Room {
    /// The number of connections that can still be opened (besides the
    /// session that read the limits), and the limit that binds.
    pub fn left(&self) -> Option<(i64, &Limit)> {
        self.limits
            .iter()
            .map(|l| (l.left(), l))
            .min_by_key(|x| x.0)
    }

    /// Check that `n` connections in all fit, counting the session that read
    /// the limits as one of them (it is reused). `flag` names the setting
    /// that asked for `n`.
    pub fn check(&self, n: usize, flag: &str) -> Result<(), String> {
        match self.left() {
            Some((left, l)) if n as i64 > left + 1 => Err(format!(
                "{flag} {n} exceeds the connection limit: {n} connections are needed, the \
                 server allows {} ({}, {} in use); use {flag} {} or less, or raise the limit",
                left + 1,
                l.what,
                l.in_use,
                left + 1
            )),
            _ => Ok(()),
        }
    }
}

/// Read the limits that apply to `client`'s role and database.
pub async fn room(client: &Client) -> Result<Room, tokio_postgres::Error> {
    let r = client
        .query_one(
            "SELECT current_setting('max_connections')::int8, \
                    r.rolsuper, \
                    current_setting('superuser_reserved_connections')::int8 \
                      + coalesce(current_setting('reserved_connections', true)::int8, 0), \
                    (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'), \
                    r.rolname::text, r.rolconnlimit::int8, \
                    (SELECT count(*) FROM pg_stat_activity \
                      WHERE backend_type = 'client backend' AND usename = r.rolname), \
                    d.datname::text, d.datconnlimit::int8, \
                    (SELECT count(*) FROM pg_stat_activity \
                      WHERE backend_type = 'client backend' AND datname = d.datname) \
             FROM pg_roles r, pg_database d \
             WHERE r.rolname = current_user AND d.datname = current_database()",
            &[],
        )
        .await?;
    let superuser: bool = r.get(1);
    let max: i64 = r.get(0);
    let reserved: i64 = if superuser { 0 } else { r.get(2) };
    let mut limits = vec![Limit {
        what: if reserved > 0 {
            format!("max_connections {max}, {reserved} reserved for superusers")
        } else {
            format!("max_connections {max}")
        },
        in_use: r.get(3),
        allowed: max - reserved,
    }];
    // Superusers are not subject to CONNECTION LIMIT.
    let (role, role_limit, db, db_limit): (String, i64, String, i64) =
        (r.get(4), r.get(5), r.get(7), r.get(8));
    if !superuser && role_limit >= 0 {
        limits.push(Limit {
            what: format!("role {role}'s CONNECTION LIMIT {role_limit}"),
            in_use: r.get(6),
            allowed: role_limit,
        });
    }
    if !superuser && db_limit >= 0 {
        limits.push(Limit {
            what: format!("database {db}'s CONNECTION LIMIT {db_limit}"),
            in_use: r.get(9),
            allowed: db_limit,
        });
    }
    Ok(Room { limits })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(what: &str, in_use: i64, allowed: i64) -> Limit {
        Limit {
            what: what.into(),
            in_use,
            allowed,
        }
    }

    #[test]
    fn the_tightest_limit_binds_and_is_named() {
        let room = Room {
            limits: vec![
                limit("max_connections 300", 20, 300),
                limit("role app's CONNECTION LIMIT 5", 2, 5),
            ],
        };
        // 2 in use (this session among them): 3 more, so 4 in all.
        assert_eq!(room.check(4, "--jobs"), Ok(()));
        assert_eq!(
            room.check(5, "--jobs").unwrap_err(),
            "--jobs 5 exceeds the connection limit: 5 connections are needed, the server \
             allows 4 (role app's CONNECTION LIMIT 5, 2 in use); use --jobs 4 or less, or \
             raise the limit"
        );
        let full = Room {
            limits: vec![limit("max_connections 10", 12, 10)],
        };
        assert_eq!(full.check(1, "--jobs"), Ok(()));
        assert!(
            full.check(2, "--jobs")
                .unwrap_err()
                .contains("use --jobs 1 or less")
        );
    }
}
