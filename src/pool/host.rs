//! The database host's CPU cores: given (`--cpus N`), or read from this
//! machine when the server is on it (Unix socket or a loopback address).
//! A remote server's cores cannot be read over SQL, so then they are
//! unknown and the proposal says so. The sizing formula counts physical
//! cores, not hyper-threads (the PostgreSQL wiki's advice), so the local
//! count is the physical cores from /proc/cpuinfo, bounded by the CPUs
//! this process may use (containers, affinity).

use serde::Serialize;

/// Where the core count came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cpus {
    pub count: u32,
    /// `flag` (--cpus) or `local` (read on this host).
    pub source: String,
    /// How it was found, for people.
    pub detail: String,
}

/// Whether a host name or address is this machine.
pub fn is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    if h.eq_ignore_ascii_case("localhost") || h.eq_ignore_ascii_case("localhost.localdomain") {
        return true;
    }
    h.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

/// Whether every host the connection may use is this machine.
pub fn is_local(config: &tokio_postgres::Config) -> bool {
    let hosts = config.get_hosts();
    if hosts.is_empty() {
        // libpq's default is the local Unix socket.
        return config.get_hostaddrs().iter().all(|a| a.is_loopback());
    }
    let addrs_local = config.get_hostaddrs().iter().all(|a| a.is_loopback());
    addrs_local
        && hosts.iter().all(|h| match h {
            tokio_postgres::config::Host::Tcp(name) => is_loopback(name),
            #[cfg(unix)]
            tokio_postgres::config::Host::Unix(_) => true,
        })
}

/// Physical cores in /proc/cpuinfo text: distinct (physical id, core id)
/// pairs. `None` when the file does not say (some VMs and architectures).
pub fn physical_cores(cpuinfo: &str) -> Option<u32> {
    let mut cores = std::collections::BTreeSet::new();
    let mut physical = None;
    let mut core = None;
    let mut flush = |p: &mut Option<String>, c: &mut Option<String>| {
        if let Some(c) = c.take() {
            cores.insert((p.take().unwrap_or_default(), c));
        }
        *p = None;
    };
    for line in cpuinfo.lines() {
        if line.trim().is_empty() {
            flush(&mut physical, &mut core);
            continue;
        }
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        match k.trim() {
            "physical id" => physical = Some(v.trim().to_string()),
            "core id" => core = Some(v.trim().to_string()),
            _ => {}
        }
    }
    flush(&mut physical, &mut core);
    (!cores.is_empty()).then_some(cores.len() as u32)
}

/// The cores of this machine, with how they were found.
pub fn local_cores() -> Option<Cpus> {
    let usable = std::thread::available_parallelism()
        .ok()
        .map(|n| n.get() as u32);
    let physical = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .as_deref()
        .and_then(physical_cores);
    let (count, detail) = match (physical, usable) {
        (Some(p), Some(u)) if u < p => (
            u,
            format!(
                "{u} CPUs usable on this host (of {p} physical cores in /proc/cpuinfo; the rest \
                 are outside this process's CPU set)"
            ),
        ),
        (Some(p), Some(u)) => (
            p,
            format!("{p} physical cores on this host (/proc/cpuinfo; {u} logical CPUs)"),
        ),
        (Some(p), None) => (
            p,
            format!("{p} physical cores on this host (/proc/cpuinfo)"),
        ),
        (None, Some(u)) => (
            u,
            format!(
                "{u} logical CPUs on this host (std::thread::available_parallelism; physical \
                 cores unknown, hyper-threads may be counted)"
            ),
        ),
        (None, None) => return None,
    };
    Some(Cpus {
        count,
        source: "local".into(),
        detail,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // in tests a panic is the failure report
mod tests {
    use super::*;

    #[test]
    fn loopback_names_and_addresses() {
        for h in ["localhost", "127.0.0.1", "::1", "[::1]", "127.0.1.1"] {
            assert!(is_loopback(h), "{h}");
        }
        for h in ["db1", "10.0.0.5", "example.com"] {
            assert!(!is_loopback(h), "{h}");
        }
    }

    #[test]
    fn local_connections() {
        let c: tokio_postgres::Config = "host=127.0.0.1 user=u".parse().unwrap();
        assert!(is_local(&c));
        let c: tokio_postgres::Config = "host=/var/run/postgresql user=u".parse().unwrap();
        assert!(is_local(&c));
        let c: tokio_postgres::Config = "postgres://u@db.example.com/app".parse().unwrap();
        assert!(!is_local(&c));
        let c: tokio_postgres::Config = "host=localhost,db2 user=u".parse().unwrap();
        assert!(!is_local(&c), "any remote host makes it remote");
    }

    #[test]
    fn physical_cores_ignore_hyperthreads() {
        // Two sockets × two cores × two threads.
        let mut text = String::new();
        for (proc, (phys, core)) in [
            (0, 0),
            (0, 1),
            (1, 0),
            (1, 1),
            (0, 0),
            (0, 1),
            (1, 0),
            (1, 1),
        ]
        .iter()
        .enumerate()
        {
            text.push_str(&format!(
                "processor\t: {proc}\nphysical id\t: {phys}\ncore id\t\t: {core}\n\n"
            ));
        }
        assert_eq!(physical_cores(&text), Some(4));
        assert_eq!(physical_cores("processor : 0\nmodel name : x\n\n"), None);
    }
}
