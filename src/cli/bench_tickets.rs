//! `kefu bench tickets`: the ticket list and full-text search on a help desk with many
//! tickets (100,000 by default) — real SQLite and tantivy in a scratch data directory,
//! timed through the same service calls the pages and the API make, for an admin and for an
//! agent whose view is narrowed to their teams and inboxes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::data_dir::DataDir;
use crate::domain::sla::{due_dates, next_due};
use crate::domain::{
    AssigneeFilter, BusinessCalendar, CommentAuthor, CustomerId, DeskScope, SlaPolicy, TeamId,
    Ticket, TicketFilter, TicketId, TicketPriority, TicketSort, TicketSource, TicketStatus,
    Timestamp, UserId,
};
use crate::realtime::Hub;
use crate::service::{
    AccountService, AttachmentService, ConversationLog, NewUserRequest, TicketListRequest,
    TicketService, WebhookService, now,
};
use crate::store::{AttachmentFiles, ImportedTicket, NewComment, Store};

const AGENTS: i64 = 20;
const TEAMS: i64 = 4;
const CUSTOMERS: i64 = 5_000;
const BATCH: usize = 5_000;

const SUBJECTS: [&str; 16] = [
    "Refund not received for order",
    "Where is my parcel",
    "Kettle lid leaks when pouring",
    "Wrong colour delivered",
    "Change delivery address",
    "Invoice needed for company",
    "Discount code does not work",
    "Account locked after password reset",
    "退款还没到账",
    "快递三天没有更新物流",
    "电水壶盖子漏水",
    "收到的颜色不对",
    "修改收货地址",
    "需要开发票",
    "优惠券无法使用",
    "账号被锁定",
];
const PRODUCTS: [&str; 8] = [
    "desk lamp",
    "kettle",
    "duvet",
    "teapot",
    "rice cooker",
    "blender",
    "台灯",
    "电饭煲",
];

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted.get(index).copied().unwrap_or_default()
}

/// A plausible ticket number `n`: a mix of statuses, priorities, teams, languages.
fn synthetic(
    n: i64,
    at: Timestamp,
    policy: &SlaPolicy,
    calendar: &BusinessCalendar,
) -> ImportedTicket {
    let statuses = [
        TicketStatus::New,
        TicketStatus::Open,
        TicketStatus::Open,
        TicketStatus::Pending,
        TicketStatus::Solved,
        TicketStatus::Solved,
        TicketStatus::Solved,
        TicketStatus::Closed,
        TicketStatus::Closed,
        TicketStatus::Closed,
    ];
    let status = statuses[(n % 10) as usize];
    let priority = TicketPriority::ALL[((n / 7) % 4) as usize];
    // Tickets spread over the last 200 days.
    let created = Timestamp::from_unix_seconds(at.unix_seconds() - (n * 173) % (200 * 86_400));
    let (first_due, resolution_due) = due_dates(policy, calendar, priority, created);
    let answered = status != TicketStatus::New;
    let subject = SUBJECTS[(n % 16) as usize];
    let product = PRODUCTS[((n / 16) % 8) as usize];
    let mut ticket = Ticket {
        id: TicketId::new(0),
        subject: format!("{subject} ({product}) #{n}"),
        description: format!(
            "{subject}. Order {} for a {product}; the customer wrote in on day {}.",
            100_000 + n,
            n % 200
        ),
        requester_id: CustomerId::new(1 + n % CUSTOMERS),
        status,
        priority,
        assignee_id: (n % 5 != 0).then(|| UserId::new(2 + n % AGENTS)),
        team_id: (n % 3 != 0).then(|| TeamId::new(1 + n % TEAMS)),
        inbox_id: None,
        tags: vec![
            format!("t{}", n % 50),
            product.split(' ').next().unwrap_or("x").to_string(),
        ],
        source: TicketSource::Api,
        conversation_ids: Vec::new(),
        first_response_due: first_due,
        resolution_due,
        first_responded_at: answered
            .then(|| Timestamp::from_unix_seconds(created.unix_seconds() + 1_800)),
        solved_at: (!status.is_unsolved())
            .then(|| Timestamp::from_unix_seconds(created.unix_seconds() + 86_400)),
        created_at: created,
        updated_at: Timestamp::from_unix_seconds(created.unix_seconds() + 3_600),
    };
    let next = next_due(&ticket).map(|(_, due)| due);
    let breached = next.is_some_and(|due| due < at);
    ticket.tags.sort();
    ImportedTicket {
        ticket,
        next_due: next,
        breached,
        comments: vec![
            NewComment {
                author: CommentAuthor::Agent,
                author_user_id: Some(UserId::new(2 + n % AGENTS)),
                body: format!(
                    "Checked order {} with the warehouse; the {product} ships again.",
                    100_000 + n
                ),
                public: true,
            },
            NewComment {
                author: CommentAuthor::Agent,
                author_user_id: Some(UserId::new(2 + n % AGENTS)),
                body: "内部备注：已联系快递公司核实。".to_string(),
                public: false,
            },
        ],
    }
}

async fn prepare(store: &Store, tickets: i64) -> anyhow::Result<()> {
    let accounts = AccountService::new(store.clone());
    for n in 0..=AGENTS {
        accounts
            .create_user(NewUserRequest {
                email: format!("agent{n}@bench.example"),
                display_name: format!("Agent {n}"),
                role: if n == 0 { "admin" } else { "agent" }.into(),
                password: "bench password 123".into(),
            })
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    for team in 0..TEAMS {
        let id = store.create_team(format!("Team {team}"), now()).await?;
        let members = (0..AGENTS)
            .filter(|agent| agent % TEAMS == team)
            .map(|agent| UserId::new(2 + agent))
            .collect();
        store.set_team_members(id, members).await?;
    }
    for n in 0..CUSTOMERS {
        store
            .customer_by_email_or_new(
                format!("customer{n}@bench.example"),
                Some(format!("Customer {n}")),
                now(),
            )
            .await?;
    }
    let policy = SlaPolicy::default();
    let calendar = BusinessCalendar::default();
    let at = now();
    let started = Instant::now();
    let mut n = 0;
    while n < tickets {
        let batch: Vec<ImportedTicket> = (n..tickets.min(n + BATCH as i64))
            .map(|i| synthetic(i, at, &policy, &calendar))
            .collect();
        n += store.import_tickets(batch).await? as i64;
    }
    store.optimize().await?;
    println!(
        "tickets: {tickets} with 2 comments each, {CUSTOMERS} customers, {AGENTS} agents in {TEAMS} teams, written in {:.1?}",
        started.elapsed()
    );
    Ok(())
}

/// Runs `query` `rounds` times and prints its p50/p99.
async fn time(
    tickets: &TicketService,
    label: &str,
    scope: DeskScope,
    rounds: usize,
    request: impl Fn() -> TicketListRequest,
) -> anyhow::Result<()> {
    let mut samples = Vec::with_capacity(rounds);
    let mut total = 0;
    for _ in 0..rounds {
        let started = Instant::now();
        let page = tickets
            .list(scope, request())
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))
            .with_context(|| label.to_string())?;
        samples.push(started.elapsed());
        total = page.total;
    }
    samples.sort();
    println!(
        "  {label:<58} p50 {:>8.2?}  p99 {:>8.2?}  ({total} match)",
        percentile(&samples, 0.5),
        percentile(&samples, 0.99)
    );
    Ok(())
}

pub async fn tickets(count: usize, rounds: usize) -> anyhow::Result<()> {
    let scratch = super::scratch::ScratchDir::new("bench-tickets")?;
    let data_dir = DataDir::create(scratch.path())?;
    let store = Store::open(&data_dir.database(), 4).await?;
    prepare(&store, i64::try_from(count).unwrap_or(i64::MAX)).await?;

    let webhooks = WebhookService::new(store.clone())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let log = Arc::new(ConversationLog::new(
        store.clone(),
        Arc::new(Hub::new()),
        webhooks,
    ));
    let attachments = Arc::new(AttachmentService::new(
        store.clone(),
        AttachmentFiles::new(data_dir.attachments()),
    ));
    let started = Instant::now();
    let service = TicketService::open(store.clone(), &data_dir.ticket_index(), log, attachments)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "search index: {} tickets indexed in {:.1?}",
        service.indexed_tickets(),
        started.elapsed()
    );

    let unsolved = || vec![TicketStatus::New, TicketStatus::Open, TicketStatus::Pending];
    let list = |filter: TicketFilter, sort: TicketSort, page: i64| TicketListRequest {
        filter,
        search: String::new(),
        sort,
        page,
        per_page: 25,
    };
    let search = |words: &str| TicketListRequest {
        search: words.to_string(),
        sort: TicketSort::Relevance,
        page: 1,
        per_page: 25,
        ..TicketListRequest::default()
    };
    let admin = DeskScope {
        user: UserId::new(1),
        is_admin: true,
    };
    let agent = DeskScope {
        user: UserId::new(3),
        is_admin: false,
    };
    for (who, scope) in [
        ("admin (every ticket)", admin),
        ("agent (own teams and tickets)", agent),
    ] {
        println!("{who}, {rounds} runs each, 25 per page:");
        time(
            &service,
            "list: unsolved, last changed first",
            scope,
            rounds,
            || {
                list(
                    TicketFilter {
                        statuses: unsolved(),
                        ..TicketFilter::default()
                    },
                    TicketSort::Updated,
                    1,
                )
            },
        )
        .await?;
        time(&service, "list: open + urgent", scope, rounds, || {
            list(
                TicketFilter {
                    statuses: vec![TicketStatus::Open],
                    priority: Some(TicketPriority::Urgent),
                    ..TicketFilter::default()
                },
                TicketSort::Updated,
                1,
            )
        })
        .await?;
        time(&service, "list: mine, by deadline", scope, rounds, || {
            list(
                TicketFilter {
                    statuses: unsolved(),
                    assignee: Some(AssigneeFilter::User(scope.user)),
                    ..TicketFilter::default()
                },
                TicketSort::Due,
                1,
            )
        })
        .await?;
        time(
            &service,
            "list: unsolved and overdue, by deadline",
            scope,
            rounds,
            || {
                list(
                    TicketFilter {
                        statuses: unsolved(),
                        breached_only: true,
                        ..TicketFilter::default()
                    },
                    TicketSort::Due,
                    1,
                )
            },
        )
        .await?;
        time(
            &service,
            "list: tag t7, any status, page 20",
            scope,
            rounds,
            || {
                list(
                    TicketFilter {
                        tag: Some("t7".into()),
                        ..TicketFilter::default()
                    },
                    TicketSort::Created,
                    20,
                )
            },
        )
        .await?;
        time(
            &service,
            "search: \"refund\" (common word)",
            scope,
            rounds,
            || search("refund"),
        )
        .await?;
        time(
            &service,
            "search: \"退款\" (Chinese)",
            scope,
            rounds,
            || search("退款"),
        )
        .await?;
        time(
            &service,
            "search: \"kettle lid leaks\"",
            scope,
            rounds,
            || search("kettle lid leaks"),
        )
        .await?;
        time(
            &service,
            "search: \"123456\" (an order number: one ticket)",
            scope,
            rounds,
            || search("123456"),
        )
        .await?;
    }
    store.close().await;
    Ok(())
}
