//! The embedding benchmark: single-query latency and batch throughput of a loaded model, for
//! `kefu bench embed` and the ignored `ml` benchmark test.

use std::fmt;
use std::time::{Duration, Instant};

use super::{Embedder, MlError};

/// A short customer question: about 16 tokens with either shipped tokenizer.
pub const SAMPLE_QUERY: &str = "Where is my parcel? It should have arrived last Monday.";

#[derive(Debug, Clone)]
pub struct Throughput {
    pub batch_size: usize,
    pub texts: usize,
    pub elapsed: Duration,
}

impl Throughput {
    pub fn texts_per_second(&self) -> f64 {
        self.texts as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }
}

#[derive(Debug, Clone)]
pub struct BenchReport {
    pub model_id: String,
    /// Tokens in the timed query, prefix and special tokens included.
    pub query_tokens: usize,
    pub query_runs: usize,
    pub query_latency_median: Duration,
    pub query_latency_min: Duration,
    pub throughput: Vec<Throughput>,
    /// Tokens the throughput texts average (each run embeds all of them as passages).
    pub mean_passage_tokens: f64,
    /// The process's peak resident memory so far (Linux only).
    pub peak_rss_bytes: Option<u64>,
}

impl fmt::Display for BenchReport {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(formatter, "model {}", self.model_id)?;
        writeln!(
            formatter,
            "  single query ({} tokens): median {:.2} ms, min {:.2} ms over {} runs",
            self.query_tokens,
            self.query_latency_median.as_secs_f64() * 1e3,
            self.query_latency_min.as_secs_f64() * 1e3,
            self.query_runs,
        )?;
        for run in &self.throughput {
            writeln!(
                formatter,
                "  batch {:>3}: {:7.1} texts/s ({} texts, mean {:.1} tokens, {:.2} s)",
                run.batch_size,
                run.texts_per_second(),
                run.texts,
                self.mean_passage_tokens,
                run.elapsed.as_secs_f64(),
            )?;
        }
        if let Some(bytes) = self.peak_rss_bytes {
            writeln!(
                formatter,
                "  peak RSS {:.0} MiB",
                bytes as f64 / 1_048_576.0
            )?;
        }
        Ok(())
    }
}

/// Times `query_runs` single `query` embeddings (after one warm-up), then embeds all `texts`
/// as passages once per batch size.
pub fn benchmark(
    embedder: &Embedder,
    query: &str,
    query_runs: usize,
    texts: &[&str],
    batch_sizes: &[usize],
) -> Result<BenchReport, MlError> {
    embedder.embed_query_uncached(query)?;
    let mut latencies = Vec::with_capacity(query_runs);
    for _ in 0..query_runs {
        let started = Instant::now();
        embedder.embed_query_uncached(query)?;
        latencies.push(started.elapsed());
    }
    latencies.sort();
    let mut throughput = Vec::with_capacity(batch_sizes.len());
    for &batch_size in batch_sizes {
        let started = Instant::now();
        embedder.embed_passages_batched(texts, batch_size)?;
        throughput.push(Throughput {
            batch_size,
            texts: texts.len(),
            elapsed: started.elapsed(),
        });
    }
    let mut total_tokens = 0;
    for text in texts {
        total_tokens += embedder.count_passage_tokens(text)?;
    }
    Ok(BenchReport {
        model_id: embedder.model_id().to_string(),
        query_tokens: embedder.count_query_tokens(query)?,
        query_runs,
        query_latency_median: latencies
            .get(latencies.len() / 2)
            .copied()
            .unwrap_or_default(),
        query_latency_min: latencies.first().copied().unwrap_or_default(),
        throughput,
        mean_passage_tokens: total_tokens as f64 / texts.len().max(1) as f64,
        peak_rss_bytes: peak_rss_bytes(),
    })
}

/// `count` help-desk messages in English and Chinese, 1–4 clauses each (about 10–60 tokens),
/// the same every time so runs compare.
pub fn sample_texts(count: usize) -> Vec<String> {
    const CLAUSES: &[&str] = &[
        "My order still hasn't arrived",
        "I was charged twice for the same subscription",
        "How do I reset my password",
        "The tracking number you sent does not work",
        "Can I change the delivery address after paying",
        "The app crashes every time I open the settings page",
        "I would like a refund for the damaged item",
        "Is there a discount for annual plans",
        "我的订单还没到",
        "为什么我的账户被锁定了",
        "请问可以开发票吗",
        "退款什么时候到账",
        "我的 order 还没到，能帮我查一下吗",
        "快递显示已签收但我没有收到",
        "please help, it has been two weeks",
        "thanks in advance for your help",
    ];
    // A fixed linear congruential sequence: varied but reproducible, no rand dependency.
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        usize::try_from(state >> 33).unwrap_or(0)
    };
    (0..count)
        .map(|_| {
            let clauses = 1 + next() % 4;
            (0..clauses)
                .map(|_| CLAUSES[next() % CLAUSES.len()])
                .collect::<Vec<_>>()
                .join(". ")
        })
        .collect()
}

/// VmHWM from /proc: the peak resident set, which includes the model's weights.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
