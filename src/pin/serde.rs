//! PIN policies in configuration files: `serde` support (the `serde` feature).
//!
//! A server keeps its profile templates' PIN policies in configuration, so a policy has to be
//! read from JSON (or TOML, YAML, ...) and written back. Two rules shape this module:
//!
//! - **A policy read from a file is checked exactly like one built in code.** Deserializing goes
//!   through [`PinPolicyBuilder::build`], so a file with `"min_len": 3` or every class
//!   disallowed is a deserialization error carrying the [`PolicyError`] message, never a
//!   `PinPolicy` that [`PinPolicy::generate`] would have to cope with. Fields that are absent take
//!   the values of [`PinPolicy::default`], and an absent `proposed_len` is 8 clamped into
//!   `min_len..=max_len`, as with the builder.
//! - **Unknown fields are errors.** A misspelt `"min_length"` would otherwise be ignored and the
//!   policy silently fall back to the default for `min_len`: for a security setting, failing
//!   loudly is the better default.
//!
//! The shape is part of the crate's stable interface: field names are the builder method names
//! (snake_case), enum values are the variant names as written in Rust (`"Require"`,
//! `"Randomized"`). The private mirror types below are what `serde` derives from; the remote
//! derive matches on every variant of the public enums, so adding a variant without adding it
//! here fails to compile instead of silently changing the format.

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

use super::class::CharRule;
use super::policy::{PinPolicy, PinPolicyBuilder, PolicyError, UserPinOption};

/// The serialized form of [`CharRule`]: `"Allow"`, `"Require"` or `"Disallow"`.
#[derive(Serialize, Deserialize)]
#[serde(remote = "CharRule", rename = "CharRule")]
enum CharRuleDef {
    Allow,
    Require,
    Disallow,
}

impl Serialize for CharRule {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        CharRuleDef::serialize(self, serializer)
    }
}

impl<'de> Deserialize<'de> for CharRule {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        CharRuleDef::deserialize(deserializer)
    }
}

/// The serialized form of [`UserPinOption`]: its variant names.
#[derive(Serialize, Deserialize)]
#[serde(remote = "UserPinOption", rename = "UserPinOption")]
enum UserPinOptionDef {
    None,
    UserProvided,
    Randomized,
    ServerDistributed,
    CustomServerDistributed,
}

impl Serialize for UserPinOption {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        UserPinOptionDef::serialize(self, serializer)
    }
}

impl<'de> Deserialize<'de> for UserPinOption {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        UserPinOptionDef::deserialize(deserializer)
    }
}

/// The fields of a [`PinPolicy`] as they appear in a file, before they are checked together.
///
/// Absent fields take [`PinPolicy::default`]'s values; `proposed_len` is `None` when absent (or
/// `null`) so that the builder clamps its default into the lengths given.
#[derive(Serialize, Deserialize)]
#[serde(rename = "PinPolicy", default, deny_unknown_fields)]
struct PinPolicyFields {
    min_len: usize,
    max_len: usize,
    proposed_len: Option<usize>,
    digits: CharRule,
    lowercase: CharRule,
    uppercase: CharRule,
    special: CharRule,
    reject_weak: bool,
    user_pin_option: UserPinOption,
}

impl Default for PinPolicyFields {
    fn default() -> Self {
        let defaults = PinPolicy::default();
        Self {
            proposed_len: None,
            ..Self::from(&defaults)
        }
    }
}

impl From<&PinPolicy> for PinPolicyFields {
    fn from(policy: &PinPolicy) -> Self {
        Self {
            min_len: policy.min_len(),
            max_len: policy.max_len(),
            proposed_len: Some(policy.proposed_len()),
            digits: policy.digits(),
            lowercase: policy.lowercase(),
            uppercase: policy.uppercase(),
            special: policy.special(),
            reject_weak: policy.reject_weak(),
            user_pin_option: policy.user_pin_option(),
        }
    }
}

impl PinPolicyFields {
    /// Checks the fields together, exactly as [`PinPolicyBuilder::build`] does for code.
    fn build(self) -> Result<PinPolicy, PolicyError> {
        let builder = PinPolicyBuilder::default()
            .min_len(self.min_len)
            .max_len(self.max_len)
            .digits(self.digits)
            .lowercase(self.lowercase)
            .uppercase(self.uppercase)
            .special(self.special)
            .reject_weak(self.reject_weak)
            .user_pin_option(self.user_pin_option);
        match self.proposed_len {
            Some(proposed_len) => builder.proposed_len(proposed_len),
            None => builder,
        }
        .build()
    }
}

impl Serialize for PinPolicy {
    /// Every field, `proposed_len` included, so the file says exactly what the policy does.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        PinPolicyFields::from(self).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for PinPolicy {
    /// Reads the fields, then builds the policy with [`PinPolicyBuilder::build`]: a policy that
    /// would not build is an error with the [`PolicyError`] message.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        PinPolicyFields::deserialize(deserializer)?
            .build()
            .map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::PinPolicyFields;
    use crate::PinPolicy;

    #[test]
    fn absent_fields_are_the_builder_defaults() {
        assert_eq!(PinPolicyFields::default().build(), Ok(PinPolicy::default()));
    }

    #[test]
    fn fields_round_trip() {
        let policy = PinPolicy::builder()
            .min_len(10)
            .max_len(20)
            .build()
            .expect("a valid policy");
        assert_eq!(policy.proposed_len(), 10);
        assert_eq!(PinPolicyFields::from(&policy).build(), Ok(policy));
    }
}
