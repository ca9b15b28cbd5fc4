//! Who is asking: the client's address behind trusted proxies, the key every per-client
//! limit counts by, and how the phone shows where a request comes from.
//!
//! The address matters twice: the phone shows it (the main sign, for a person, that the
//! code on their screen is their own request and not an attacker's), and every rate limit
//! and cap is keyed by it. So `X-Forwarded-For` is read only from a peer in
//! `SCANLOGIN_TRUSTED_PROXIES`, and only as far as the chain of trusted proxies goes.

use std::{
    fmt,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    str::FromStr,
};

use axum::http::HeaderMap;
use dashmap::DashMap;
use ipnet::IpNet;

/// The networks whose `X-Forwarded-For` is believed (`SCANLOGIN_TRUSTED_PROXIES`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client's address: the peer's, or, when the peer is a trusted proxy, the
    /// right-most `X-Forwarded-For` entry that is not a trusted proxy itself. An entry
    /// that does not parse as an address (`ip:port`, `unknown`, garbage) ends the walk:
    /// whatever stands left of it may have been written by the client, so the last
    /// trusted address is the client as far as anyone can tell.
    pub fn resolve(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.contains(client) {
            return client;
        }
        let entries: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .flat_map(|value| match value.to_str() {
                Ok(text) => text.split(',').collect::<Vec<_>>(),
                // Not even text: treat the header as one entry that does not parse.
                Err(_) => vec!["\u{0}"],
            })
            .collect();
        for entry in entries.iter().rev() {
            let Ok(ip) = entry.trim().parse::<IpAddr>() else {
                return client;
            };
            client = ip.to_canonical();
            if !self.contains(client) {
                return client;
            }
        }
        client
    }
}

impl FromStr for TrustedProxies {
    type Err = String;

    /// A comma-separated list of networks (`10.0.0.0/8`) or single addresses.
    fn from_str(list: &str) -> Result<Self, Self::Err> {
        let mut nets = Vec::new();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let net = match item.parse::<IpNet>() {
                Ok(net) => net.trunc(),
                Err(_) => match item.parse::<IpAddr>() {
                    Ok(ip) => IpNet::from(ip),
                    Err(_) => {
                        return Err(format!(
                            "{item:?} is neither a network (10.0.0.0/8, fd00::/8) nor an address"
                        ))
                    }
                },
            };
            nets.push(net);
        }
        Ok(Self(nets))
    }
}

impl fmt::Display for TrustedProxies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("none");
        }
        let list: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&list.join(","))
    }
}

/// What per-client limits count by: an IPv4 address, or an IPv6 address cut to its
/// network prefix (`SCANLOGIN_IPV6_PREFIX`, default 64), since one subscriber commonly
/// holds a whole /64 and could otherwise be 2^64 clients. One subscriber may also hold
/// a /56 or a /48 (tunnel brokers hand them out free): the wider networks a client sits in
/// have limits of their own ([`Ipv6Networks`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct ClientKey(IpAddr);

impl ClientKey {
    pub fn new(ip: IpAddr, ipv6_prefix: u8) -> Self {
        match ip.to_canonical() {
            IpAddr::V4(v4) => Self(IpAddr::V4(v4)),
            IpAddr::V6(v6) => {
                let bits = u128::from(v6);
                let prefix = u32::from(ipv6_prefix.min(128));
                let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
                Self(IpAddr::V6(Ipv6Addr::from(bits & mask)))
            }
        }
    }
}

impl ClientKey {
    /// The IPv6 network of `prefix` bits this client is in (`None` for IPv4). A network's
    /// key can equal a client's (`2001:db8:1:200::` is a /64 and a /56), so what counts
    /// by both keeps them apart by prefix.
    pub fn network(self, prefix: u8) -> Option<ClientKey> {
        match self.0 {
            IpAddr::V4(_) => None,
            v6 @ IpAddr::V6(_) => Some(ClientKey::new(v6, prefix)),
        }
    }
}

/// The wider IPv6 networks every limit also counts, each allowed a multiple of what one
/// client is (`SCANLOGIN_IPV6_NETWORK_LIMITS`, default `56:4,48:16`: a /56 gets four
/// clients' allowance, a /48 sixteen). Without them one /48 would be 65,536 clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ipv6Networks(Vec<(u8, u32)>);

impl Ipv6Networks {
    /// `(prefix, multiple)`, widest last.
    pub fn iter(&self) -> impl Iterator<Item = (u8, u32)> + '_ {
        self.0.iter().copied()
    }

    /// Every network must be wider than a client's own prefix.
    pub fn check_against(&self, client_prefix: u8) -> Result<(), String> {
        match self.0.iter().find(|(prefix, _)| *prefix >= client_prefix) {
            Some((prefix, _)) => Err(format!(
                "/{prefix} is not wider than a client's /{client_prefix} (SCANLOGIN_IPV6_PREFIX)"
            )),
            None => Ok(()),
        }
    }
}

impl Default for Ipv6Networks {
    fn default() -> Self {
        Self(vec![(56, 4), (48, 16)])
    }
}

impl FromStr for Ipv6Networks {
    type Err = String;

    /// `prefix:multiple` pairs, comma-separated (`56:4,48:16`); `none` for no networks.
    fn from_str(list: &str) -> Result<Self, Self::Err> {
        if list.trim() == "none" {
            return Ok(Self(Vec::new()));
        }
        let mut networks = Vec::new();
        for item in list.split(',').map(str::trim) {
            let parsed = item.split_once(':').and_then(|(prefix, multiple)| {
                Some((
                    prefix.trim().parse::<u8>().ok()?,
                    multiple.trim().parse::<u32>().ok()?,
                ))
            });
            match parsed {
                Some((prefix, multiple)) if (1..128).contains(&prefix) && multiple >= 1 => {
                    networks.push((prefix, multiple))
                }
                _ => {
                    return Err(format!(
                        "{item:?} is not prefix:multiple (56:4 lets a /56 do what 4 clients may)"
                    ))
                }
            }
        }
        networks.sort_by_key(|(prefix, _)| std::cmp::Reverse(*prefix));
        if networks.windows(2).any(|w| w[0].0 == w[1].0) {
            return Err("a prefix is named twice".into());
        }
        Ok(Self(networks))
    }
}

impl fmt::Display for Ipv6Networks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("none");
        }
        let list: Vec<String> = self.0.iter().map(|(p, m)| format!("{p}:{m}")).collect();
        f.write_str(&list.join(","))
    }
}

/// What clients hold at once (open connections, sockets that have not said hello), each
/// client up to a cap, and each wider IPv6 network it sits in up to that cap times its
/// multiple ([`Ipv6Networks`]).
#[derive(Debug)]
pub struct HeldPerClient {
    cap: usize,
    networks: Ipv6Networks,
    /// By key and prefix: a network's key can equal a client's.
    held: DashMap<(ClientKey, u8), usize>,
}

impl HeldPerClient {
    pub fn new(cap: usize, networks: Ipv6Networks) -> Self {
        Self {
            cap,
            networks,
            held: DashMap::new(),
        }
    }

    /// The counters `client` holds a place in, each with its cap: its own, then its
    /// networks'.
    fn counters(&self, client: ClientKey) -> impl Iterator<Item = ((ClientKey, u8), usize)> + '_ {
        std::iter::once(((client, 128), self.cap)).chain(self.networks.iter().filter_map(
            move |(prefix, multiple)| {
                let network = client.network(prefix)?;
                Some((
                    (network, prefix),
                    self.cap.saturating_mul(multiple as usize),
                ))
            },
        ))
    }

    /// Takes a place for `client`: `false`, and nothing taken, when the client or one of
    /// its networks is at its cap. Each place taken is given back with [`Self::give_back`].
    pub fn take(&self, client: ClientKey) -> bool {
        for (taken, (counter, cap)) in self.counters(client).enumerate() {
            let mut count = self.held.entry(counter).or_default();
            if *count >= cap {
                drop(count);
                self.release(client, taken);
                return false;
            }
            *count += 1;
        }
        true
    }

    pub fn give_back(&self, client: ClientKey) {
        self.release(client, usize::MAX);
    }

    fn release(&self, client: ClientKey, counters: usize) {
        for (counter, _) in self.counters(client).take(counters) {
            self.held.remove_if_mut(&counter, |_, count| {
                *count -= 1;
                *count == 0
            });
        }
    }

    /// Whether no client holds anything.
    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }
}

impl fmt::Display for ClientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Where a request comes from, as a person reads it on the phone: the network, not the
/// exact address (`203.0.113.x`, `2001:db8:1:2::/64`). Enough to tell "my office" from
/// "somewhere else", and it does not hand a scanner the browser's full address.
pub fn network_of(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            format!("{a}.{b}.{c}.x")
        }
        IpAddr::V6(v6) => {
            let net = ClientKey::new(IpAddr::V6(v6), 64).0;
            format!("{net}/64")
        }
    }
}

/// A loopback address, IPv4-mapped IPv6 included.
pub fn is_loopback(ip: IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}

pub const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn xff(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append("x-forwarded-for", v.parse().unwrap());
        }
        headers
    }

    fn proxies(list: &str) -> TrustedProxies {
        list.parse().unwrap()
    }

    #[test]
    fn a_direct_connection_is_its_own_client_whatever_it_claims() {
        let trusted = proxies("10.0.0.0/8");
        let headers = xff(&["1.1.1.1"]);
        assert_eq!(
            trusted.resolve(ip("203.0.113.5"), &headers),
            ip("203.0.113.5")
        );
        assert_eq!(
            TrustedProxies::default().resolve(ip("127.0.0.1"), &headers),
            ip("127.0.0.1"),
            "no trusted proxies: the header is never read"
        );
    }

    #[test]
    fn behind_a_trusted_proxy_the_right_most_untrusted_entry_is_the_client() {
        let trusted = proxies("127.0.0.1, 10.0.0.0/8");
        let peer = ip("127.0.0.1");
        // The client forged the first entry; the proxy appended the real one.
        assert_eq!(
            trusted.resolve(peer, &xff(&["6.6.6.6, 198.51.100.7"])),
            ip("198.51.100.7")
        );
        // A chain of trusted proxies is walked through.
        assert_eq!(
            trusted.resolve(peer, &xff(&["6.6.6.6, 198.51.100.7, 10.1.2.3"])),
            ip("198.51.100.7")
        );
        // Several headers are one list, in order.
        assert_eq!(
            trusted.resolve(peer, &xff(&["6.6.6.6", "198.51.100.7"])),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn an_entry_that_does_not_parse_ends_the_walk() {
        let trusted = proxies("127.0.0.1, 10.0.0.0/8");
        let peer = ip("127.0.0.1");
        for forged in [
            "6.6.6.6, unknown",
            "6.6.6.6, 198.51.100.7:4242",
            "6.6.6.6, [2001:db8::1]:443",
            "6.6.6.6,",
            "6.6.6.6, _hidden",
        ] {
            assert_eq!(trusted.resolve(peer, &xff(&[forged])), peer, "{forged}");
        }
        // Past a trusted hop, the last trusted address is used.
        assert_eq!(
            trusted.resolve(peer, &xff(&["6.6.6.6, unknown, 10.1.2.3"])),
            ip("10.1.2.3")
        );
    }

    #[test]
    fn a_missing_header_or_an_all_trusted_chain_is_the_proxy_itself() {
        let trusted = proxies("127.0.0.1, 10.0.0.0/8");
        let peer = ip("127.0.0.1");
        assert_eq!(trusted.resolve(peer, &HeaderMap::new()), peer);
        assert_eq!(trusted.resolve(peer, &xff(&["10.9.9.9"])), ip("10.9.9.9"));
    }

    #[test]
    fn ipv4_mapped_peers_are_their_ipv4_address() {
        let trusted = proxies("127.0.0.1");
        assert_eq!(
            trusted.resolve(ip("::ffff:127.0.0.1"), &xff(&["198.51.100.7"])),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn proxy_lists_take_networks_and_addresses() {
        assert_eq!(proxies("10.0.0.1/8").to_string(), "10.0.0.0/8");
        assert_eq!(
            proxies(" ::1 , 127.0.0.1").to_string(),
            "::1/128,127.0.0.1/32"
        );
        assert!("10.0.0.0/33".parse::<TrustedProxies>().is_err());
        assert!("proxy.example".parse::<TrustedProxies>().is_err());
    }

    #[test]
    fn ipv6_clients_are_grouped_by_prefix() {
        let a = ClientKey::new(ip("2001:db8:1:2::1"), 64);
        let b = ClientKey::new(ip("2001:db8:1:2:ffff:ffff:ffff:ffff"), 64);
        let c = ClientKey::new(ip("2001:db8:1:3::1"), 64);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.to_string(), "2001:db8:1:2::");
        assert_ne!(
            ClientKey::new(ip("2001:db8::1"), 128),
            ClientKey::new(ip("2001:db8::2"), 128)
        );
        assert_eq!(
            ClientKey::new(ip("10.0.0.1"), 64).to_string(),
            "10.0.0.1",
            "IPv4 is not grouped"
        );
        assert_eq!(ClientKey::new(ip("2001:db8::1"), 0).to_string(), "::");
    }

    #[test]
    fn a_client_is_in_the_wider_networks_of_its_address() {
        let client = ClientKey::new(ip("2001:db8:1:2ff::1"), 64);
        assert_eq!(client.network(56).unwrap().to_string(), "2001:db8:1:200::");
        assert_eq!(client.network(48).unwrap().to_string(), "2001:db8:1::");
        assert_eq!(ClientKey::new(ip("10.0.0.1"), 64).network(48), None);
    }

    #[test]
    fn a_client_s_wider_ipv6_networks_are_capped_too() {
        // Two places per client; a /56 four clients' worth, a /48 sixteen.
        let held = HeldPerClient::new(2, Ipv6Networks::default());
        let key = |s: String| ClientKey::new(ip(&s), 64);
        // Eight /64s of one /56, two places each: the /56 holds 8.
        let one_56: Vec<ClientKey> = (0..8)
            .flat_map(|i| [0, 1].map(move |_| i))
            .map(|i| key(format!("2001:db8:1:{i:x}::1")))
            .filter(|&client| held.take(client))
            .collect();
        assert_eq!(one_56.len(), 8);
        // Other /56s of the same /48: 32 in all.
        let one_48: Vec<ClientKey> = (1..=40)
            .map(|i| key(format!("2001:db8:1:{:x}::1", i * 0x100)))
            .filter(|&client| held.take(client))
            .collect();
        assert_eq!(one_56.len() + one_48.len(), 32);
        assert!(held.take(key("2001:db8:2::1".into())), "another /48");
        held.give_back(key("2001:db8:2::1".into()));
        let v4 = ClientKey::new(ip("10.0.0.1"), 64);
        assert!(
            held.take(v4) && held.take(v4) && !held.take(v4),
            "IPv4: the cap"
        );
        held.give_back(v4);
        held.give_back(v4);
        for client in one_56.into_iter().chain(one_48) {
            held.give_back(client);
        }
        assert!(held.is_empty(), "every place is given back");
    }

    #[test]
    fn network_limits_are_prefix_multiple_pairs() {
        let parsed: Ipv6Networks = "48:16, 56:4".parse().unwrap();
        assert_eq!(parsed, Ipv6Networks::default());
        assert_eq!(parsed.to_string(), "56:4,48:16");
        assert_eq!("none".parse::<Ipv6Networks>().unwrap().iter().count(), 0);
        for bad in ["56", "56:0", "0:4", "128:2", "56:4,56:8", "x:4", ""] {
            assert!(bad.parse::<Ipv6Networks>().is_err(), "{bad}");
        }
        assert!(parsed.check_against(64).is_ok());
        assert!(parsed.check_against(56).is_err());
    }

    #[test]
    fn the_phone_sees_the_network_not_the_address() {
        assert_eq!(network_of(ip("203.0.113.77")), "203.0.113.x");
        assert_eq!(network_of(ip("2001:db8:1:2:3:4:5:6")), "2001:db8:1:2::/64");
        assert_eq!(network_of(ip("::ffff:198.51.100.1")), "198.51.100.x");
    }
}
