//! Target names, as gRPC spells them (its naming doc): `dns:[//authority/]host[:port]`,
//! `ipv4:addr:port[,addr:port...]`, `ipv6:[addr]:port[,...]`, and, as tonic takes them,
//! `http://host:port` or `https://host:port` (resolved by DNS).

use super::resolve::Resolve;

/// A parsed target name. STUB: the fleet work fills this in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    authority: String,
}

impl Target {
    /// The name calls carry as `:authority`: the host and port of the target.
    pub fn authority(&self) -> String {
        self.authority.clone()
    }

    /// The resolver for this target.
    pub fn resolver(&self) -> impl Resolve + use<> {
        super::resolve::StaticResolver::new(Vec::new())
    }
}

impl std::str::FromStr for Target {
    type Err = TargetError;

    fn from_str(target: &str) -> Result<Self, Self::Err> {
        Err(TargetError {
            target: target.to_owned(),
            reason: "not yet supported".to_owned(),
        })
    }
}

/// A target name that could not be parsed; names the target and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetError {
    target: String,
    reason: String,
}

impl std::fmt::Display for TargetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid target `{}`: {}", self.target, self.reason)
    }
}

impl std::error::Error for TargetError {}
