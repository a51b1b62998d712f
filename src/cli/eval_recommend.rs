//! `kefu eval recommend`: offline quality of the production recommender. Each customer's
//! last purchase is held out; the recommender (fed only what came before, plus everyone
//! else's history) and a popularity baseline each rank 10 items; hit-rate@10 and NDCG@10
//! say how often and how high the held-out items appear.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, bail};
use serde::Serialize;

use crate::domain::Timestamp;
use crate::domain::profile::{
    ADD_TO_CART, PURCHASE, ProfileEvent, ProfileFacts, basket_items, derive_tags,
    interest_categories, purchased_items,
};
use crate::domain::recommend::{
    Candidate, CoOccurrence, RecommendationContext, ranking_quality, recommend, shortlist,
};

/// The list length both rankers are judged at.
const CUTOFF: usize = 10;
/// Popular items always scored besides the neighbours of a customer's items.
const SHORTLIST_POPULAR: usize = 300;
const MAX_EVENTS_FILE_BYTES: u64 = 512 * 1024 * 1024;

/// One row of the events file.
#[derive(Debug, Clone)]
struct EventRow {
    customer: String,
    item: String,
    event: String,
    at: i64,
}

#[derive(Debug, Serialize)]
pub struct RankerScore {
    pub hit_rate_at_10: f64,
    pub ndcg_at_10: f64,
}

#[derive(Debug, Serialize)]
pub struct RecommendReport {
    pub events: usize,
    pub customers: usize,
    pub items: usize,
    /// Customers with an earlier purchase and a last purchase holding something new.
    pub evaluated_customers: usize,
    pub kefu: RankerScore,
    pub popularity: RankerScore,
    pub seconds: f64,
}

pub fn recommend_eval(events: &Path, catalog: Option<&Path>, json: bool) -> anyhow::Result<()> {
    let rows = read_events(events)?;
    let categories = match catalog {
        Some(path) => read_categories(path)?,
        None => HashMap::new(),
    };
    let report = evaluate(&rows, &categories);
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "{} events, {} customers, {} items; {} customers held out (last purchase, new items only)",
            report.events, report.customers, report.items, report.evaluated_customers
        );
        println!("{:<28} {:>14} {:>10}", "ranker", "hit-rate@10", "NDCG@10");
        for (name, score) in [
            ("kefu recommender", &report.kefu),
            ("popularity baseline", &report.popularity),
        ] {
            println!(
                "{name:<28} {:>13.1}% {:>10.4}",
                score.hit_rate_at_10 * 100.0,
                score.ndcg_at_10
            );
        }
        println!("evaluated in {:.1} s", report.seconds);
    }
    Ok(())
}

fn read_events(path: &Path) -> anyhow::Result<Vec<EventRow>> {
    let size = std::fs::metadata(path)
        .with_context(|| format!("reading {}", path.display()))?
        .len();
    if size > MAX_EVENTS_FILE_BYTES {
        bail!("{} is larger than 512 MiB; sample it", path.display());
    }
    let mut reader =
        csv::Reader::from_path(path).with_context(|| format!("reading {}", path.display()))?;
    let header = reader.headers()?.clone();
    let column = |name: &str| {
        header
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(name))
            .with_context(|| {
                format!(
                    "{}: line 1: no {name:?} column; the columns are customer,item,event,timestamp",
                    path.display()
                )
            })
    };
    let (customer, item, event, timestamp) = (
        column("customer")?,
        column("item")?,
        column("event")?,
        column("timestamp")?,
    );
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.with_context(|| format!("reading {}", path.display()))?;
        let line = record.position().map_or(0, |p| p.line());
        let cell = |index: usize| record.get(index).unwrap_or_default().trim().to_string();
        let at = cell(timestamp).parse::<i64>().with_context(|| {
            format!(
                "{}: line {line}: timestamp {:?} is not Unix seconds",
                path.display(),
                cell(timestamp)
            )
        })?;
        let row = EventRow {
            customer: cell(customer),
            item: cell(item),
            event: cell(event),
            at,
        };
        if row.customer.is_empty() || row.item.is_empty() {
            bail!(
                "{}: line {line}: customer and item must not be empty",
                path.display()
            );
        }
        rows.push(row);
    }
    Ok(rows)
}

/// Item id → category, from a catalog CSV (columns id and category).
fn read_categories(path: &Path) -> anyhow::Result<HashMap<String, String>> {
    let mut reader =
        csv::Reader::from_path(path).with_context(|| format!("reading {}", path.display()))?;
    let header = reader.headers()?.clone();
    let id = header
        .iter()
        .position(|h| h.trim().eq_ignore_ascii_case("id"))
        .context("the catalog has no id column")?;
    let category = header
        .iter()
        .position(|h| h.trim().eq_ignore_ascii_case("category"));
    let mut categories = HashMap::new();
    for record in reader.records() {
        let record = record?;
        if let (Some(id), Some(category)) = (record.get(id), category.and_then(|c| record.get(c)))
            && !category.trim().is_empty()
        {
            categories.insert(id.trim().to_string(), category.trim().to_string());
        }
    }
    Ok(categories)
}

fn profile_event(row: &EventRow) -> ProfileEvent {
    ProfileEvent {
        name: row.event.clone(),
        properties: serde_json::json!({ "item_id": row.item }),
        at: Timestamp::from_unix_seconds(row.at),
    }
}

fn evaluate(rows: &[EventRow], categories: &HashMap<String, String>) -> RecommendReport {
    let started = Instant::now();
    let mut by_customer: BTreeMap<&str, Vec<&EventRow>> = BTreeMap::new();
    for row in rows {
        by_customer.entry(&row.customer).or_default().push(row);
    }
    for events in by_customer.values_mut() {
        events.sort_by_key(|row| row.at);
    }
    let items: HashSet<&str> = rows.iter().map(|row| row.item.as_str()).collect();

    // Each customer's held-out basket: the items of their last purchase moment that they
    // had not bought before; the events from that moment on are hidden from training.
    let mut held_out: BTreeMap<&str, (i64, HashSet<String>)> = BTreeMap::new();
    for (customer, events) in &by_customer {
        let purchases: Vec<&&EventRow> = events.iter().filter(|r| r.event == PURCHASE).collect();
        let Some(last) = purchases.last().map(|r| r.at) else {
            continue;
        };
        let earlier: HashSet<&str> = purchases
            .iter()
            .filter(|r| r.at < last)
            .map(|r| r.item.as_str())
            .collect();
        if earlier.is_empty() {
            continue;
        }
        let new_items: HashSet<String> = purchases
            .iter()
            .filter(|r| r.at == last && !earlier.contains(r.item.as_str()))
            .map(|r| r.item.clone())
            .collect();
        if !new_items.is_empty() {
            held_out.insert(customer, (last, new_items));
        }
    }

    let visible = |customer: &str, row: &EventRow| {
        held_out
            .get(customer)
            .is_none_or(|(cutoff, _)| row.at < *cutoff)
    };
    let histories: Vec<Vec<String>> = by_customer
        .iter()
        .map(|(customer, events)| {
            events
                .iter()
                .filter(|row| visible(customer, row))
                .filter(|row| row.event == PURCHASE || row.event == ADD_TO_CART)
                .map(|row| row.item.clone())
                .collect()
        })
        .collect();
    let together = CoOccurrence::from_histories(histories.iter().map(Vec::as_slice));
    let popular: Vec<&String> = together.most_popular();

    let mut kefu_hits = 0usize;
    let mut kefu_ndcg = 0.0f64;
    let mut popular_hits = 0usize;
    let mut popular_ndcg = 0.0f64;
    for (customer, (_, relevant)) in &held_out {
        let history: Vec<ProfileEvent> = by_customer[customer]
            .iter()
            .filter(|row| visible(customer, row))
            .map(|row| profile_event(row))
            .collect();
        let purchased = purchased_items(&history);
        let seeds = basket_items(&history);
        let item_categories: BTreeMap<String, String> = seeds
            .iter()
            .filter_map(|id| Some((id.clone(), categories.get(id)?.clone())))
            .collect();
        let facts = ProfileFacts {
            first_seen: history
                .first()
                .map_or(Timestamp::from_unix_seconds(0), |e| e.at),
            conversations: 0,
            events: history.clone(),
            asked_categories: Vec::new(),
            item_categories,
            item_prices: BTreeMap::new(),
        };
        let now = history
            .last()
            .map_or(Timestamp::from_unix_seconds(0), |e| e.at);
        let interests = interest_categories(&derive_tags(&facts, now));

        let ids = shortlist(&together, &seeds, SHORTLIST_POPULAR);
        let candidates: Vec<Candidate<'_>> = ids
            .iter()
            .map(|id| Candidate {
                id,
                title: id,
                category: categories.get(id.as_str()).map_or("", String::as_str),
                content_similarity: None,
            })
            .collect();
        let ranked: Vec<String> = recommend(
            &candidates,
            &together,
            &RecommendationContext {
                purchased: &purchased,
                seeds: &seeds,
                interests: &interests,
                topic: None,
            },
            CUTOFF,
        )
        .into_iter()
        .map(|r| r.item_id)
        .collect();
        let quality = ranking_quality(&ranked, relevant);
        kefu_hits += usize::from(quality.hit);
        kefu_ndcg += quality.ndcg;

        let bought: HashSet<&String> = purchased.iter().collect();
        let baseline: Vec<String> = popular
            .iter()
            .filter(|id| !bought.contains(*id))
            .take(CUTOFF)
            .map(|id| (*id).clone())
            .collect();
        let quality = ranking_quality(&baseline, relevant);
        popular_hits += usize::from(quality.hit);
        popular_ndcg += quality.ndcg;
    }
    #[allow(clippy::cast_precision_loss)]
    let evaluated = held_out.len().max(1) as f64;
    #[allow(clippy::cast_precision_loss)]
    RecommendReport {
        events: rows.len(),
        customers: by_customer.len(),
        items: items.len(),
        evaluated_customers: held_out.len(),
        kefu: RankerScore {
            hit_rate_at_10: kefu_hits as f64 / evaluated,
            ndcg_at_10: kefu_ndcg / evaluated,
        },
        popularity: RankerScore {
            hit_rate_at_10: popular_hits as f64 / evaluated,
            ndcg_at_10: popular_ndcg / evaluated,
        },
        seconds: started.elapsed().as_secs_f64(),
    }
}
