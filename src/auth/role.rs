//! Roles, lowest to highest: viewer < operator < engineer < admin.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde::{Serialize, Serializer};

/// What a user may do. Ordered: a role may do everything the roles below it may do, so "at least
/// operator" is `role >= Role::Operator`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Read only: never writes, acknowledges or shelves anything.
    #[default]
    Viewer,
    /// Setpoints within operator limits, acknowledge alarms.
    Operator,
    /// Wider limits, shelve, out-of-service.
    Engineer,
    Admin,
}

impl Role {
    /// Every role, lowest first.
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Operator, Role::Engineer, Role::Admin];

    /// The name used in files and messages (lowercase).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Engineer => "engineer",
            Role::Admin => "admin",
        }
    }

    /// Whether this role may do what `required` may do.
    pub fn at_least(self, required: Role) -> bool {
        self >= required
    }

    /// "viewer, operator, engineer, admin", for messages.
    pub fn names() -> String {
        Role::ALL.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is not one of [`Role::ALL`]; the message names the allowed roles.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownRole(pub String);

impl fmt::Display for UnknownRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown role `{}` (allowed roles: {})", self.0, Role::names())?;
        let lower = self.0.trim().to_lowercase();
        if let Some(r) = Role::ALL.iter().find(|r| r.as_str() == lower) {
            write!(f, "; did you mean `{r}`? role names are lowercase")?;
        }
        Ok(())
    }
}

impl std::error::Error for UnknownRole {}

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Role, UnknownRole> {
        Role::ALL.into_iter().find(|r| r.as_str() == s).ok_or_else(|| UnknownRole(s.to_string()))
    }
}

impl Serialize for Role {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Role {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Role, D::Error> {
        struct RoleVisitor;
        impl Visitor<'_> for RoleVisitor {
            type Value = Role;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "a role ({})", Role::names())
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Role, E> {
                v.parse().map_err(|e: UnknownRole| E::custom(e))
            }
        }
        d.deserialize_str(RoleVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_lowest_first() {
        assert!(Role::Viewer < Role::Operator && Role::Operator < Role::Engineer && Role::Engineer < Role::Admin);
        assert!(Role::Engineer.at_least(Role::Operator));
        assert!(!Role::Viewer.at_least(Role::Operator));
        assert_eq!(Role::default(), Role::Viewer);
    }

    #[test]
    fn names_round_trip_lowercase() {
        for r in Role::ALL {
            assert_eq!(r.to_string().parse::<Role>(), Ok(r));
        }
        let err = "Operator".parse::<Role>().unwrap_err().to_string();
        assert_eq!(
            err,
            "unknown role `Operator` (allowed roles: viewer, operator, engineer, admin); did you mean `operator`? \
             role names are lowercase"
        );
        assert_eq!(
            "root".parse::<Role>().unwrap_err().to_string(),
            "unknown role `root` (allowed roles: viewer, operator, engineer, admin)"
        );
    }
}
