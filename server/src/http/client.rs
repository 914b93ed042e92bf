//! Who is asking: the client's address, for the limits. The socket's peer, unless that peer is
//! one of `FITROOM_TRUSTED_PROXIES`; then `X-Forwarded-For` is read from the right (each proxy
//! appends the address it saw) and the first address that is not a trusted proxy is the
//! client's. From anyone else the header is ignored: a client could write anything there.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;

use crate::AppState;

/// The client's address as resolved for this request; `None` when it is unknown (tests that
/// call the router without a socket).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddr(pub Option<IpAddr>);

pub fn resolve(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[IpNet]) -> Option<IpAddr> {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    let peer = peer?;
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|a| a.trim().parse::<IpAddr>())
        .collect::<Result<_, _>>()
        .unwrap_or_default(); // a malformed chain is not believed at all
    Some(forwarded.into_iter().rev().find(|ip| !is_trusted(ip)).unwrap_or(peer))
}

/// Resolves the address once per request, for the REST handlers and the server functions alike.
pub async fn layer(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let addr = resolve(peer, request.headers(), &state.config.trusted_proxies);
    request.extensions_mut().insert(ClientAddr(addr));
    next.run(request).await
}

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<ClientAddr>().copied().unwrap_or_else(|| {
            ClientAddr(parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()))
        }))
    }
}

/// The asking client as accounts see it: its address and its `User-Agent`.
pub struct AccountClient(pub crate::accounts::Client);

impl<S: Send + Sync> FromRequestParts<S> for AccountClient {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let ClientAddr(addr) = ClientAddr::from_request_parts(parts, state).await?;
        let user_agent = parts
            .headers
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Ok(AccountClient(crate::accounts::Client { addr, user_agent }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", v.parse().expect("header"));
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn a_client_that_is_not_a_trusted_proxy_cannot_choose_its_address() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().expect("net")];
        assert_eq!(
            resolve(Some(ip("203.0.113.9")), &headers(&["1.2.3.4"]), &trusted),
            Some(ip("203.0.113.9"))
        );
        assert_eq!(resolve(Some(ip("203.0.113.9")), &headers(&[]), &[]), Some(ip("203.0.113.9")));
    }

    #[test]
    fn behind_trusted_proxies_the_nearest_untrusted_address_is_the_client() {
        let trusted: Vec<IpNet> =
            vec!["10.0.0.0/8".parse().expect("net"), "192.0.2.1/32".parse().expect("net")];
        // The client wrote a fake first hop; our proxies appended what they saw.
        let chain = headers(&["6.6.6.6, 198.51.100.7", "192.0.2.1"]);
        assert_eq!(resolve(Some(ip("10.1.2.3")), &chain, &trusted), Some(ip("198.51.100.7")));
        assert_eq!(resolve(Some(ip("10.1.2.3")), &headers(&[]), &trusted), Some(ip("10.1.2.3")));
        assert_eq!(
            resolve(Some(ip("10.1.2.3")), &headers(&["not-an-address"]), &trusted),
            Some(ip("10.1.2.3")),
            "a malformed chain is ignored"
        );
    }
}
