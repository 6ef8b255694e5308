//! A network namespace joined to this one by a veth pair, for the long-link case: the server
//! runs inside it, so the delayed path crosses a real (virtual) link instead of loopback.
//! Needs root and `ip` (iproute2); callers fall back to loopback when creation fails.

use std::ffi::OsStr;
use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::process::{Command, Stdio};

/// A namespace holding one end of a veth pair; deleted (with the pair) when dropped.
#[derive(Debug)]
pub struct Namespace {
    name: String,
    host_if: String,
    /// The address of this (host) end of the pair.
    pub host_ip: IpAddr,
    /// The address of the end inside the namespace, where servers listen.
    pub inner_ip: IpAddr,
}

fn ip(args: &[&str]) -> io::Result<()> {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

impl Namespace {
    /// Creates a namespace and a veth pair with a /30 private to this benchmark process.
    pub fn create() -> io::Result<Namespace> {
        let pid = std::process::id();
        // A /30 in 10.213.0.0/16 chosen by process id, so concurrent runs do not collide.
        let slot = pid % 16_384;
        let base = [10, 213, (slot / 64) as u8, ((slot % 64) * 4) as u8];
        let host = Ipv4Addr::new(base[0], base[1], base[2], base[3] + 1);
        let inner = Ipv4Addr::new(base[0], base[1], base[2], base[3] + 2);
        let ns = Namespace {
            name: format!("rsbench-{pid}"),
            host_if: format!("rsb{pid}h"),
            host_ip: IpAddr::V4(host),
            inner_ip: IpAddr::V4(inner),
        };
        let inner_if = format!("rsb{pid}n");
        let (name, host_if) = (ns.name.as_str(), ns.host_if.as_str());
        ip(&["netns", "add", name])?;
        // From here on, dropping `ns` cleans up whatever was created.
        ip(&[
            "link", "add", host_if, "type", "veth", "peer", "name", &inner_if,
        ])?;
        ip(&["link", "set", &inner_if, "netns", name])?;
        ip(&["addr", "add", &format!("{host}/30"), "dev", host_if])?;
        ip(&["link", "set", host_if, "up"])?;
        let exec = |args: &[&str]| {
            let mut all = vec!["netns", "exec", name, "ip"];
            all.extend_from_slice(args);
            ip(&all)
        };
        exec(&["addr", "add", &format!("{inner}/30"), "dev", &inner_if])?;
        exec(&["link", "set", &inner_if, "up"])?;
        exec(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// A command that runs `program` inside the namespace.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.name]).arg(program);
        command
    }

    /// What the report says about the link.
    pub fn describe(&self) -> String {
        format!(
            "network namespace joined by a veth pair (MTU 1500): the server runs in the \
             namespace at {}, the client and the delay proxy outside it at {}",
            self.inner_ip, self.host_ip
        )
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = ip(&["link", "del", &self.host_if]);
        let _ = ip(&["netns", "del", &self.name]);
    }
}
