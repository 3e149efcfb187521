//! The client's address behind a reverse proxy: the peer's own, unless the
//! peer is a trusted proxy (`web.trusted_proxies`); then the rightmost
//! address of `X-Forwarded-For` that is not itself a trusted proxy (each
//! proxy appends the address it received from, so only the entries added
//! by trusted proxies can be believed).

use std::net::IpAddr;

use hyper::HeaderMap;
use ipnet::IpNet;

/// The client's address for a request from `peer` with `headers`.
pub fn of(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(ip) if is_trusted(&ip) => client = ip,
            Ok(ip) => return ip,
            // A malformed entry: nothing left of it can be believed.
            Err(_) => return client,
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(forwarded: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in forwarded {
            map.append("x-forwarded-for", value.parse().expect("header value"));
        }
        map
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("address")
    }

    #[test]
    fn only_a_trusted_proxy_is_believed_and_only_for_the_hops_it_added() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap(), "127.0.0.1/32".parse().unwrap()];
        // Not a proxy: its header is ignored.
        assert_eq!(of(ip("192.0.2.7"), &headers(&["203.0.113.9"]), &trusted), ip("192.0.2.7"));
        // The proxy forwarded the client.
        assert_eq!(of(ip("127.0.0.1"), &headers(&["203.0.113.9"]), &trusted), ip("203.0.113.9"));
        // A client's own forged entry stays left of what the proxies added.
        let chain = headers(&["1.2.3.4, 203.0.113.9", "10.1.1.1"]);
        assert_eq!(of(ip("127.0.0.1"), &chain, &trusted), ip("203.0.113.9"));
        // No header, or garbage: the last trusted hop.
        assert_eq!(of(ip("127.0.0.1"), &headers(&[]), &trusted), ip("127.0.0.1"));
        assert_eq!(of(ip("127.0.0.1"), &headers(&["not-an-ip"]), &trusted), ip("127.0.0.1"));
        // No proxy trusted: always the peer.
        assert_eq!(of(ip("127.0.0.1"), &headers(&["203.0.113.9"]), &[]), ip("127.0.0.1"));
    }
}
