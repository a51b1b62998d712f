//! What other programs use: REST API tokens and their scopes, and outgoing webhooks — the
//! events they carry, the URLs they may go to (never into the private network unless an
//! admin allows it), and how often a failed delivery is retried.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use serde::Serialize;

use super::{ApiTokenId, Timestamp, UserId, ValidationError, WebhookId};

/// What an API token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ApiScope {
    /// GET only.
    Read,
    /// Everything the API offers.
    Write,
}

impl ApiScope {
    pub const fn as_str(self) -> &'static str {
        match self {
            ApiScope::Read => "read",
            ApiScope::Write => "write",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        match raw.trim() {
            "read" => Ok(ApiScope::Read),
            "write" => Ok(ApiScope::Write),
            other => Err(ValidationError::new(
                "scope",
                format!("{other:?} is not a scope; use read or write"),
            )),
        }
    }

    pub fn allows_writes(self) -> bool {
        self == ApiScope::Write
    }
}

/// An API token as the admin page lists it (the secret itself is never stored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiToken {
    pub id: ApiTokenId,
    pub name: String,
    /// The first characters of the secret, to tell tokens apart.
    pub prefix: String,
    pub scope: ApiScope,
    /// Whose agent account the token's writes are recorded under.
    pub created_by: Option<UserId>,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

/// A token's name: what it is for, 1–80 characters.
pub fn parse_token_name(raw: &str) -> Result<String, ValidationError> {
    let name = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    if name.is_empty() || name.chars().count() > 80 {
        return Err(ValidationError::new(
            "name",
            "say what the token is for, in 1 to 80 characters (e.g. \"Shop backend\")",
        ));
    }
    Ok(name)
}

/// Something that happened, as webhooks announce it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum WebhookEvent {
    #[serde(rename = "ticket.created")]
    TicketCreated,
    #[serde(rename = "ticket.updated")]
    TicketUpdated,
    #[serde(rename = "conversation.created")]
    ConversationCreated,
    #[serde(rename = "conversation.handed_off")]
    ConversationHandedOff,
    #[serde(rename = "conversation.resolved")]
    ConversationResolved,
    #[serde(rename = "message.created")]
    MessageCreated,
}

impl WebhookEvent {
    pub const ALL: [WebhookEvent; 6] = [
        WebhookEvent::TicketCreated,
        WebhookEvent::TicketUpdated,
        WebhookEvent::ConversationCreated,
        WebhookEvent::ConversationHandedOff,
        WebhookEvent::ConversationResolved,
        WebhookEvent::MessageCreated,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            WebhookEvent::TicketCreated => "ticket.created",
            WebhookEvent::TicketUpdated => "ticket.updated",
            WebhookEvent::ConversationCreated => "conversation.created",
            WebhookEvent::ConversationHandedOff => "conversation.handed_off",
            WebhookEvent::ConversationResolved => "conversation.resolved",
            WebhookEvent::MessageCreated => "message.created",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|event| event.as_str() == raw.trim())
    }
}

/// Where a webhook posts: an absolute http(s) URL without credentials in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WebhookUrl(String);

pub const WEBHOOK_URL_MAX_CHARS: usize = 2_000;

impl WebhookUrl {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let raw = raw.trim();
        let invalid = |why: &str| {
            ValidationError::new(
                "url",
                format!("{raw:?} {why}; write it like https://example.com/hooks/kefu"),
            )
        };
        if raw.chars().count() > WEBHOOK_URL_MAX_CHARS {
            return Err(invalid("is too long"));
        }
        let (scheme, rest) = raw
            .split_once("://")
            .ok_or_else(|| invalid("is not a web address"))?;
        if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
            return Err(invalid("must start with https:// or http://"));
        }
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if authority.is_empty() {
            return Err(invalid("has no host"));
        }
        if authority.contains('@') {
            return Err(invalid("must not carry a user name or password"));
        }
        if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid("contains spaces"));
        }
        Ok(WebhookUrl(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A configured webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Webhook {
    pub id: WebhookId,
    pub url: WebhookUrl,
    /// The HMAC-SHA256 key deliveries are signed with.
    #[serde(skip)]
    pub secret: String,
    pub events: Vec<WebhookEvent>,
    /// The admin allowed private, loopback and link-local addresses (an internal service).
    pub allow_private: bool,
    pub active: bool,
    pub created_at: Timestamp,
}

impl Webhook {
    pub fn wants(&self, event: WebhookEvent) -> bool {
        self.active && self.events.contains(&event)
    }
}

/// Whether a webhook may connect to `address` without the admin's explicit permission:
/// only public unicast addresses. Loopback, private (RFC 1918, unique local), link-local
/// (cloud metadata lives there), shared (CGNAT), unspecified, multicast, broadcast and
/// documentation ranges are refused, also when written as IPv4-mapped IPv6.
pub fn is_public_address(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(address: Ipv4Addr) -> bool {
    let [a, b, ..] = address.octets();
    !(address.is_loopback()
        || address.is_private()
        || address.is_link_local()
        || address.is_unspecified()
        || address.is_multicast()
        || address.is_broadcast()
        || address.is_documentation()
        // Shared address space (carrier-grade NAT), 100.64.0.0/10.
        || (a == 100 && (64..128).contains(&b))
        // "This network" and reserved-for-future-use.
        || a == 0
        || a >= 240)
}

fn is_public_v6(address: Ipv6Addr) -> bool {
    let first = address.segments()[0];
    !(address.is_loopback()
        || address.is_unspecified()
        || address.is_multicast()
        // Unique local fc00::/7 and link-local fe80::/10.
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        // Documentation 2001:db8::/32.
        || (first == 0x2001 && address.segments()[1] == 0x0db8))
}

/// How long to wait before retry number `attempt` (1 = the first retry); `None` gives up.
/// About a day of retries in all: 10 s, 1 min, 5 min, 30 min, 2 h, 6 h, 12 h.
pub fn retry_delay(attempt: u32) -> Option<Duration> {
    const MINUTE: u64 = 60;
    let seconds = match attempt {
        1 => 10,
        2 => MINUTE,
        3 => 5 * MINUTE,
        4 => 30 * MINUTE,
        5 => 120 * MINUTE,
        6 => 360 * MINUTE,
        7 => 720 * MINUTE,
        _ => return None,
    };
    Some(Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_unicast_addresses_are_allowed_by_default() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            let address: IpAddr = private.parse().expect("address");
            assert!(!is_public_address(address), "{private} must be refused");
        }
        for public in ["93.184.216.34", "8.8.8.8", "2606:4700::1111"] {
            let address: IpAddr = public.parse().expect("address");
            assert!(is_public_address(address), "{public} is public");
        }
    }

    #[test]
    fn webhook_urls_are_plain_http_addresses() {
        assert!(WebhookUrl::parse("https://example.com/hook").is_ok());
        assert!(WebhookUrl::parse("http://127.0.0.1:9000/x").is_ok());
        for bad in [
            "ftp://example.com",
            "https://user:pw@example.com/",
            "example.com/hook",
            "https:///nohost",
            "https://exa mple.com",
        ] {
            assert!(WebhookUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn retries_back_off_then_give_up() {
        assert_eq!(retry_delay(1), Some(Duration::from_secs(10)));
        assert!(retry_delay(2) < retry_delay(3));
        assert_eq!(retry_delay(8), None);
    }
}
