//! scratch
#[test]
fn scratch() {
    use tantivy::tokenizer::{TokenStream, Tokenizer};
    for text in ["我的 order 还没到，怎么办？", "When will my Orders arrive? e-mail c++ 3-5", "我的订单还没到怎么办？", "收到商品30天内可以申请退货，请在订单页面点击“申请退货”。"] {
        let mut raw = tantivy_jieba::JiebaTokenizer::new();
        let mut s = raw.token_stream(text);
        let mut v = vec![];
        while let Some(t) = s.next() { v.push(format!("{:?}", t.text)); }
        eprintln!("raw: {}", v.join(" "));
        eprintln!("kefu: {:?}", super::analyzer::terms(&super::analyzer::build(), text, 100));
    }
    let dir = tempfile::TempDir::new().unwrap();
    let index = super::tests::built_index_for_scratch(dir.path());
    let f = crate::domain::KnowledgeFilter { published_only: true, ..Default::default() };
    for q in ["orders arriving", "我的 order 还没到", "退货"] {
        index.search(q, &f, 10).unwrap();
        let n = 1000;
        let t = std::time::Instant::now();
        for _ in 0..n { index.search(q, &f, 10).unwrap(); }
        eprintln!("{q}: {:?} per search; hits {:?}", t.elapsed() / n, index.search(q, &f, 10).unwrap());
    }
}
