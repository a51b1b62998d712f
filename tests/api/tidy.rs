//! Mechanical checks of the layer rule and house style in ../shared/design.md.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("readable dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn source_tree() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    rust_files(&root.join("src"))
        .into_iter()
        .map(|path| {
            let relative = path
                .strip_prefix(root)
                .expect("under the root")
                .to_string_lossy()
                .replace('\\', "/");
            let text = std::fs::read_to_string(&path).expect("utf-8 source");
            (relative, text)
        })
        .collect()
}

/// Crates that only one layer may use, and that layer's directory.
const OWNED_CRATES: &[(&str, &str)] = &[
    ("rusqlite", "src/store/"),
    ("tantivy", "src/search/"),
    ("candle_", "src/ml/"),
    ("tokenizers", "src/ml/"),
    ("actix_web", "src/http/"),
    ("askama", "src/http/"),
];

#[test]
fn each_crate_stays_in_its_layer() {
    let mut violations = Vec::new();
    for (file, text) in source_tree() {
        for (krate, home) in OWNED_CRATES {
            let pattern = if krate.ends_with('_') {
                (*krate).to_string()
            } else {
                format!("{krate}::")
            };
            if !file.starts_with(home) && text.contains(&pattern) {
                violations.push(format!("{file} uses {krate} (only {home} may)"));
            }
        }
    }
    assert!(violations.is_empty(), "{violations:#?}");
}

#[test]
fn handlers_reach_storage_only_through_services() {
    let violations: Vec<String> = source_tree()
        .into_iter()
        .filter(|(file, text)| {
            file.starts_with("src/http/")
                && (text.contains("crate::store")
                    || text.contains("crate::search")
                    || text.contains("crate::realtime"))
        })
        .map(|(file, _)| file)
        .collect();
    assert!(
        violations.is_empty(),
        "http must go through service: {violations:?}"
    );
}

#[test]
fn the_domain_does_no_io() {
    let forbidden = [
        "actix", "rusqlite", "tantivy", "candle", "askama", "tokio", "std::fs", "std::net",
        "reqwest",
    ];
    let mut violations = Vec::new();
    for (file, text) in source_tree() {
        if file.starts_with("src/domain/") {
            for word in forbidden {
                if text.contains(word) {
                    violations.push(format!("{file} mentions {word}"));
                }
            }
        }
    }
    assert!(violations.is_empty(), "{violations:#?}");
}

#[test]
fn every_source_file_says_what_it_owns() {
    let missing: Vec<String> = source_tree()
        .into_iter()
        .filter(|(_, text)| !text.starts_with("//!"))
        .map(|(file, _)| file)
        .collect();
    assert!(
        missing.is_empty(),
        "files without a leading //! line: {missing:?}"
    );
}

#[test]
fn templates_never_bypass_escaping() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
    let mut pending = vec![root];
    let mut violations = Vec::new();
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("templates dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("utf-8 template");
            if text.contains("|safe") || text.contains("| safe") {
                violations.push(path.display().to_string());
            }
            if text.contains("<script>") || text.contains(" style=\"") {
                violations.push(format!("{} has inline script or style", path.display()));
            }
        }
    }
    assert!(violations.is_empty(), "{violations:?}");
}

#[test]
fn released_migrations_are_append_only() {
    // Each migration's checksum is pinned here when it is released; editing one breaks this.
    let pinned: &[(&str, &str)] = &[
        ("0001_accounts.sql", MIGRATION_0001_SHA256),
        ("0002_knowledge.sql", MIGRATION_0002_SHA256),
        ("0003_assistant.sql", MIGRATION_0003_SHA256),
        ("0004_conversations.sql", MIGRATION_0004_SHA256),
        ("0005_desk.sql", MIGRATION_0005_SHA256),
        ("0006_tickets.sql", MIGRATION_0006_SHA256),
        ("0007_customers.sql", MIGRATION_0007_SHA256),
    ];
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    for (name, expected) in pinned {
        let bytes = std::fs::read(root.join(name)).expect("migration exists");
        let actual = sha256_hex(&bytes);
        assert_eq!(
            &actual, expected,
            "{name} was edited after release; add a new migration"
        );
    }
}

const MIGRATION_0007_SHA256: &str =
    "a7aab82e1f4d18f15f209b0409b64ffb44121de210004f8b299e4bf20179bf7c";

const MIGRATION_0006_SHA256: &str =
    "e1d426b8077764b1869ff4fd524f974ebe3f407fe56500a9af9e7487769bb707";

const MIGRATION_0005_SHA256: &str =
    "071836efa8dc00fa2643384e33a4feedf34d5a5e6a9d5c76e298cc6bb87245e0";

const MIGRATION_0004_SHA256: &str =
    "d3e5ce5622ac958ca258a12b5d3b510ee748abd60d518b806fd5e73a9b6a93d0";

const MIGRATION_0001_SHA256: &str =
    "e7bb904129a342acb0db96b02512af5a5cc355ecc9f1161c3ca5d87e470edfd2";

const MIGRATION_0002_SHA256: &str =
    "862b713fab0ab6f2deecd3844574204da1e0f7fa7b671b05712b53dae01dab12";

const MIGRATION_0003_SHA256: &str =
    "26fbb6caab4e643bc9c6308d287b26cee260f05f5051fdf5684979645c589089";

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}
