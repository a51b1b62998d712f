//! Facts about the request itself: the client's address and whether it came over TLS.

use actix_web::HttpRequest;
use std::net::{IpAddr, Ipv4Addr};

/// The client's IP: the socket peer, or the proxy's `X-Forwarded-For` when configured to trust it.
pub fn client_ip(request: &HttpRequest, trust_proxy: bool) -> IpAddr {
    if trust_proxy
        && let Some(forwarded) = request.connection_info().realip_remote_addr()
        && let Some(ip) = parse_ip(forwarded)
    {
        return ip;
    }
    request
        .peer_addr()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |addr| addr.ip())
}

fn parse_ip(raw: &str) -> Option<IpAddr> {
    raw.parse().ok().or_else(|| {
        raw.parse::<std::net::SocketAddr>()
            .ok()
            .map(|addr| addr.ip())
    })
}

/// Cookies get `Secure` when the browser reached us over https (directly or via a proxy).
pub fn is_https(request: &HttpRequest) -> bool {
    request.connection_info().scheme() == "https"
}

pub fn user_agent(request: &HttpRequest) -> Option<String> {
    request
        .headers()
        .get(actix_web::http::header::USER_AGENT)
        .and_then(|value| value.to_str().ok())
        .map(str::to_string)
}

pub fn is_htmx(request: &HttpRequest) -> bool {
    request.headers().contains_key("HX-Request")
}

pub fn wants_json(path: &str) -> bool {
    path.starts_with("/api/")
}
