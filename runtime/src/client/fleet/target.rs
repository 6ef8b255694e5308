//! Target names, as gRPC spells them (its naming doc): `dns:[//authority/]host[:port]`,
//! `ipv4:addr[:port][,addr[:port]...]`, `ipv6:[addr][:port][,...]`, and, as tonic takes
//! them, `http://host[:port]` or `https://host[:port]` (resolved by DNS). A bare
//! `host[:port]` is a DNS name, as gRPC's default scheme has it.
//!
//! Parsing is strict and every error names the target: a typo in a fleet's address is a
//! configuration error better refused at startup than found as an outage.

use super::resolve::{DnsResolver, Resolve, ResolveFuture, StaticResolver};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

/// The port of a target that names none: gRPC's default (TLS) port.
const DEFAULT_PORT: u16 = 443;
/// The port of an `http://` target that names none.
const DEFAULT_HTTP_PORT: u16 = 80;
/// What an unknown scheme's error lists.
const SCHEMES: &str = "dns:, ipv4:, ipv6:, http:// or https://";

/// A parsed target name: where a fleet's replicas are found, the name calls carry as
/// `:authority`, and whether the target asks for TLS (`https://`).
///
/// ```
/// use rust_stream::Target;
/// let target: Target = "dns:///orders.internal:50051".parse().unwrap();
/// assert_eq!(target.authority(), "orders.internal:50051");
/// let list: Target = "ipv4:10.0.0.1:50051,10.0.0.2:50051".parse().unwrap();
/// assert_eq!(list.authority(), "10.0.0.1:50051");
/// assert!("unix:/tmp/socket".parse::<Target>().is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    addresses: Addresses,
    authority: String,
    tls: bool,
}

/// Where the replicas of a target are.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Addresses {
    /// Every address `host` resolves to, with `port`.
    Dns { host: String, port: u16 },
    /// These addresses (`ipv4:` and `ipv6:` lists).
    Fixed(Vec<SocketAddr>),
}

impl Target {
    /// The name calls carry as `:authority` (and TLS verifies): the host, with the port if
    /// the target names one, as written; for an address list, its first address.
    pub fn authority(&self) -> String {
        self.authority.clone()
    }

    /// Whether the target asks for TLS (`https://`).
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// The resolver for this target: DNS for a name, the addresses themselves for a list.
    pub fn resolver(&self) -> impl Resolve + use<> {
        match &self.addresses {
            Addresses::Dns { host, port } => TargetResolver::Dns(DnsResolver::new(host, *port)),
            Addresses::Fixed(list) => TargetResolver::Fixed(StaticResolver::new(list.clone())),
        }
    }
}

/// The resolver a [`Target`] names.
enum TargetResolver {
    Dns(DnsResolver),
    Fixed(StaticResolver),
}

impl Resolve for TargetResolver {
    fn resolve(&self) -> ResolveFuture {
        match self {
            TargetResolver::Dns(dns) => dns.resolve(),
            TargetResolver::Fixed(fixed) => fixed.resolve(),
        }
    }
}

impl std::str::FromStr for Target {
    type Err = TargetError;

    fn from_str(target: &str) -> Result<Self, Self::Err> {
        parse(target).map_err(|reason| TargetError {
            target: target.to_owned(),
            reason,
        })
    }
}

/// Parses `target`; the error is what is wrong with it.
fn parse(target: &str) -> Result<Target, String> {
    if target.is_empty() {
        return Err("the target is empty".into());
    }
    if let Some(rest) = target.strip_prefix("https://") {
        return dns_name(rest, DEFAULT_PORT, true);
    }
    if let Some(rest) = target.strip_prefix("http://") {
        return dns_name(rest, DEFAULT_HTTP_PORT, false);
    }
    match target.split_once(':') {
        Some(("dns", rest)) => dns_name(dns_endpoint(rest)?, DEFAULT_PORT, false),
        Some(("ipv4", list)) => address_list(list, ipv4_address),
        Some(("ipv6", list)) => address_list(list, ipv6_address),
        // `host:port` without a scheme.
        Some((_, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
            dns_name(target, DEFAULT_PORT, false)
        }
        Some((scheme, _)) => Err(format!("unknown scheme `{scheme}`; use {SCHEMES}")),
        None => dns_name(target, DEFAULT_PORT, false),
    }
}

/// The `host[:port]` of `dns:[//authority/]host[:port]`; a DNS server named in the
/// authority is refused rather than silently ignored.
fn dns_endpoint(rest: &str) -> Result<&str, String> {
    let Some(after) = rest.strip_prefix("//") else {
        return Ok(rest);
    };
    match after.split_once('/') {
        Some(("", endpoint)) => Ok(endpoint),
        Some((server, _)) => Err(format!(
            "a DNS server (`{server}`) cannot be chosen; write `dns:///host:port`"
        )),
        None => Err("`dns://` must be followed by `/host:port` (`dns:///host:port`)".into()),
    }
}

/// A target resolved by DNS: `host[:port]`, `port` by default.
fn dns_name(endpoint: &str, default_port: u16, tls: bool) -> Result<Target, String> {
    let endpoint = endpoint.strip_suffix('/').unwrap_or(endpoint);
    if endpoint.contains(['/', '?', '#', '@']) {
        return Err(format!(
            "`{endpoint}` is not `host[:port]` (no path, query or user)"
        ));
    }
    let (host, port) = split_port(endpoint, default_port)?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if host.is_empty() {
        return Err("the host is empty".into());
    }
    // The authority goes into every request's `:authority` header: it must be one.
    if endpoint.parse::<http::uri::Authority>().is_err() {
        return Err(format!("`{host}` is not a valid host name"));
    }
    Ok(Target {
        addresses: Addresses::Dns {
            host: host.to_owned(),
            port,
        },
        authority: endpoint.to_owned(),
        tls,
    })
}

/// Splits `host[:port]` (the host may be a bracketed IPv6 address).
fn split_port(endpoint: &str, default_port: u16) -> Result<(&str, u16), String> {
    let port_at = match endpoint.rfind(']') {
        Some(end) => endpoint[end..].find(':').map(|i| end + i),
        None => endpoint.rfind(':'),
    };
    let Some(at) = port_at else {
        return Ok((endpoint, default_port));
    };
    let (host, port) = (&endpoint[..at], &endpoint[at + 1..]);
    if host.contains(':') && !host.starts_with('[') {
        return Err(format!(
            "IPv6 address `{endpoint}` must be in brackets, as `[::1]:50051`"
        ));
    }
    Ok((host, parse_port(port)?))
}

/// A port from 1 to 65535.
fn parse_port(port: &str) -> Result<u16, String> {
    let digits = port.bytes().all(|b| b.is_ascii_digit());
    match port.parse::<u16>() {
        Ok(port) if port != 0 && digits => Ok(port),
        _ => Err(format!("port `{port}` is not a number from 1 to 65535")),
    }
}

/// An `ipv4:` or `ipv6:` list, each entry parsed by `address`.
fn address_list(
    list: &str,
    address: fn(&str) -> Result<SocketAddr, String>,
) -> Result<Target, String> {
    if list.is_empty() {
        return Err("the address list is empty".into());
    }
    let addresses = list
        .split(',')
        .map(address)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Target {
        authority: addresses[0].to_string(),
        addresses: Addresses::Fixed(addresses),
        tls: false,
    })
}

/// `a.b.c.d[:port]`.
fn ipv4_address(entry: &str) -> Result<SocketAddr, String> {
    let (ip, port) = split_port(entry, DEFAULT_PORT)?;
    let ip: Ipv4Addr = ip
        .parse()
        .map_err(|_| format!("`{entry}` is not an IPv4 address with an optional port"))?;
    Ok(SocketAddr::from((ip, port)))
}

/// `[addr][:port]`: brackets always, so an address is never mistaken for a port.
fn ipv6_address(entry: &str) -> Result<SocketAddr, String> {
    if !entry.starts_with('[') {
        return Err(format!(
            "IPv6 address `{entry}` must be in brackets, as `[::1]:50051`"
        ));
    }
    let (ip, port) = split_port(entry, DEFAULT_PORT)?;
    let ip: Ipv6Addr = ip
        .strip_prefix('[')
        .and_then(|ip| ip.strip_suffix(']'))
        .and_then(|ip| ip.parse().ok())
        .ok_or_else(|| format!("`{entry}` is not a bracketed IPv6 address"))?;
    Ok(SocketAddr::from((ip, port)))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn dns(target: &str) -> (String, u16, String, bool) {
        let parsed: Target = target.parse().unwrap();
        let Addresses::Dns { host, port } = parsed.addresses else {
            panic!("{target} is not a DNS target");
        };
        (host, port, parsed.authority, parsed.tls)
    }

    fn error(target: &str) -> String {
        let error = target.parse::<Target>().unwrap_err().to_string();
        assert!(
            error.starts_with(&format!("invalid target `{target}`: ")),
            "{error}"
        );
        error
    }

    fn fixed(target: &str) -> Vec<SocketAddr> {
        match target.parse::<Target>().unwrap().addresses {
            Addresses::Fixed(list) => list,
            Addresses::Dns { .. } => panic!("{target} is not a list"),
        }
    }

    #[test]
    fn dns_names_in_every_spelling() {
        let svc = |port| ("svc.internal".to_owned(), port, String::new(), false);
        let with = |(h, p, _, t): (String, u16, String, bool), a: &str| (h, p, a.to_owned(), t);
        assert_eq!(
            dns("dns:///svc.internal:50051"),
            with(svc(50051), "svc.internal:50051")
        );
        assert_eq!(
            dns("dns:svc.internal:50051"),
            with(svc(50051), "svc.internal:50051")
        );
        assert_eq!(dns("dns:///svc.internal"), with(svc(443), "svc.internal"));
        assert_eq!(
            dns("svc.internal:50051"),
            with(svc(50051), "svc.internal:50051")
        );
        assert_eq!(dns("svc.internal"), with(svc(443), "svc.internal"));
        assert_eq!(
            dns("http://svc.internal:8080/"),
            with(svc(8080), "svc.internal:8080")
        );
        assert_eq!(dns("http://svc.internal"), with(svc(80), "svc.internal"));
        let (host, port, authority, tls) = dns("https://svc.internal");
        assert_eq!(
            (host.as_str(), port, authority.as_str(), tls),
            ("svc.internal", 443, "svc.internal", true)
        );
        let (host, port, authority, _) = dns("http://[::1]:50051");
        assert_eq!(
            (host.as_str(), port, authority.as_str()),
            ("::1", 50051, "[::1]:50051")
        );
    }

    #[test]
    fn address_lists_default_their_port_and_take_the_first_as_authority() {
        let list = "ipv4:127.0.0.2:50051,127.0.0.3";
        assert_eq!(
            fixed(list),
            [
                "127.0.0.2:50051".parse().unwrap(),
                "127.0.0.3:443".parse().unwrap()
            ]
        );
        assert_eq!(
            list.parse::<Target>().unwrap().authority(),
            "127.0.0.2:50051"
        );
        assert_eq!(
            fixed("ipv6:[::1]:50051,[fe80::1]"),
            [
                "[::1]:50051".parse().unwrap(),
                "[fe80::1]:443".parse().unwrap()
            ]
        );
    }

    #[test]
    fn every_malformed_target_is_refused_with_its_reason() {
        let cases = [
            ("", "empty"),
            ("dns:///", "host is empty"),
            ("dns:///:50051", "host is empty"),
            ("https://", "host is empty"),
            ("dns:///svc:http", "port `http`"),
            ("dns:///svc:0", "port `0`"),
            ("svc:70000", "port `70000`"),
            ("http://svc:", "port ``"),
            ("dns://8.8.8.8/svc:50051", "DNS server (`8.8.8.8`)"),
            ("dns://svc:50051", "dns:///host:port"),
            (
                "unix:/tmp/socket",
                "unknown scheme `unix`; use dns:, ipv4:, ipv6:, http:// or https://",
            ),
            ("xds:///svc", "unknown scheme `xds`"),
            ("grpc://svc:50051", "unknown scheme `grpc`"),
            ("ipv4:", "address list is empty"),
            (
                "ipv4:127.0.0.1:50051,127.0.0.300:50051",
                "`127.0.0.300:50051` is not an IPv4",
            ),
            ("ipv4:127.0.0.1:50051,", "`` is not an IPv4"),
            ("ipv4:[::1]:50051", "is not an IPv4"),
            ("ipv6:::1", "must be in brackets"),
            ("ipv6:[::1]:50051,::2", "`::2` must be in brackets"),
            ("ipv6:[127.0.0.1]:50051", "not a bracketed IPv6"),
            ("http://::1:50051", "must be in brackets"),
            ("http://svc:50051/path", "no path"),
            ("http://user@svc:50051", "no path, query or user"),
            ("dns:///sv c:50051", "not a valid host name"),
        ];
        for (target, reason) in cases {
            let error = error(target);
            assert!(error.contains(reason), "{target}: {error}");
        }
    }

    #[tokio::test]
    async fn each_target_gets_its_resolver() {
        let list = "ipv4:127.0.0.2:1,127.0.0.3:2".parse::<Target>().unwrap();
        assert_eq!(
            list.resolver().resolve().await.unwrap(),
            fixed("ipv4:127.0.0.2:1,127.0.0.3:2")
        );
        let local = "dns:///127.0.0.4:7".parse::<Target>().unwrap();
        assert_eq!(
            local.resolver().resolve().await.unwrap(),
            ["127.0.0.4:7".parse().unwrap()]
        );
    }
}
