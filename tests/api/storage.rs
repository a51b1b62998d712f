//! The database: migrations, the data-directory lock, backup and restore.

use crate::helpers::{
    ADMIN_EMAIL, ADMIN_PASSWORD, kefu_binary, shared_model, spawn_app, spawn_app_in, test_config,
};
use kefu::app::App;
use kefu::store::{Store, latest_schema_version};
use reqwest::StatusCode;
use std::process::Command;

#[tokio::test]
async fn migrations_build_the_schema_once_and_are_idempotent() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("kefu.db");

    let store = Store::open(&path, 1).await.expect("migrates an empty db");
    assert_eq!(
        store.schema_version().await.expect("version"),
        latest_schema_version()
    );
    let first = store.schema().await.expect("schema");
    store.close().await;

    let store = Store::open(&path, 1).await.expect("opens again");
    let second = store.schema().await.expect("schema");
    assert_eq!(
        store.schema_version().await.expect("version"),
        latest_schema_version()
    );
    store.close().await;
    assert_eq!(first, second, "a second migration run changes nothing");

    insta::assert_snapshot!("schema", first.join(";\n\n"));
}

#[tokio::test]
async fn a_database_from_a_newer_kefu_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("kefu.db");
    Store::open(&path, 1).await.expect("creates").close().await;
    let conn = rusqlite::Connection::open(&path).expect("open");
    conn.pragma_update(None, "user_version", 999)
        .expect("set version");
    drop(conn);

    let error = Store::open(&path, 1).await.err().expect("refused");
    let message = error.to_string();
    assert!(message.contains("written by a newer kefu"), "{message}");
}

#[tokio::test]
async fn a_second_server_on_the_same_data_dir_is_refused() {
    let app = spawn_app().await;
    let error = App::build_with_model(&test_config(&app.data_dir), shared_model())
        .await
        .err()
        .expect("the second instance must not start");
    let message = format!("{error:#}");
    assert!(
        message.contains("is in use by another kefu process"),
        "{message}"
    );
    assert!(
        message.contains(&format!("pid {}", std::process::id())),
        "{message}"
    );
}

#[tokio::test]
async fn backup_while_serving_then_restore_into_a_new_data_dir() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    app.user(&admin, "agent@example.com", "agent").await;
    let backup_dir = tempfile::tempdir().expect("temp dir");
    let backup_file = backup_dir.path().join("kefu-backup.db");

    // The server keeps running (and holding its lock) while the backup is taken.
    let backup = Command::new(kefu_binary())
        .args(["backup", backup_file.to_str().expect("utf-8")])
        .arg("--data-dir")
        .arg(&app.data_dir)
        .output()
        .expect("kefu backup runs");
    assert!(
        backup.status.success(),
        "{}",
        String::from_utf8_lossy(&backup.stderr)
    );
    assert!(String::from_utf8_lossy(&backup.stdout).contains("backup written to"));
    assert_eq!(app.browser().get("/healthz").await.status(), StatusCode::OK);

    // Restoring into the live data dir is refused while it serves.
    let refused = Command::new(kefu_binary())
        .arg("restore")
        .arg(&backup_file)
        .arg("--data-dir")
        .arg(&app.data_dir)
        .output()
        .expect("kefu restore runs");
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("in use by another kefu process"));

    let target = tempfile::tempdir().expect("temp dir");
    let restore = Command::new(kefu_binary())
        .arg("restore")
        .arg(&backup_file)
        .arg("--data-dir")
        .arg(target.path())
        .output()
        .expect("kefu restore runs");
    assert!(
        restore.status.success(),
        "{}",
        String::from_utf8_lossy(&restore.stderr)
    );

    let restored = spawn_app_in(target.path())
        .await
        .expect("starts on the restored data");
    assert!(restored.setup_token.is_none(), "accounts came back");
    let browser = restored.browser();
    assert_eq!(
        browser.login(ADMIN_EMAIL, ADMIN_PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        restored
            .browser()
            .login("agent@example.com", "agent password 123")
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn restore_over_existing_data_keeps_the_old_database() {
    let source = tempfile::tempdir().expect("temp dir");
    let app = spawn_app_in(source.path()).await.expect("starts");
    app.admin().await;
    let backup_file = source.path().join("backup.db");
    let output = Command::new(kefu_binary())
        .arg("backup")
        .arg(&backup_file)
        .arg("--data-dir")
        .arg(source.path())
        .output()
        .expect("backup");
    assert!(output.status.success());
    app.stop().await;

    let target = tempfile::tempdir().expect("temp dir");
    spawn_app_in(target.path())
        .await
        .expect("creates an empty db")
        .stop()
        .await;
    let output = Command::new(kefu_binary())
        .arg("restore")
        .arg(&backup_file)
        .arg("--data-dir")
        .arg(target.path())
        .output()
        .expect("restore");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let kept: Vec<String> = std::fs::read_dir(target.path())
        .expect("dir")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name.starts_with("kefu.db.before-restore-"))
        .collect();
    assert_eq!(kept.len(), 1, "the replaced database is kept: {kept:?}");
}

#[tokio::test]
async fn restore_refuses_files_that_are_not_kefu_backups() {
    let dir = tempfile::tempdir().expect("temp dir");
    let text_file = dir.path().join("notes.txt");
    std::fs::write(&text_file, "not a database").expect("write");
    let foreign_db = dir.path().join("other.db");
    rusqlite::Connection::open(&foreign_db)
        .expect("open")
        .execute_batch("CREATE TABLE t (x)")
        .expect("create");

    for (file, expected) in [
        (&text_file, "is not a kefu database"),
        (&foreign_db, "not a database written by kefu"),
    ] {
        let output = Command::new(kefu_binary())
            .arg("restore")
            .arg(file)
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .output()
            .expect("restore runs");
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{stderr}");
    }
    assert!(
        !dir.path().join("data").join("kefu.db").exists(),
        "nothing half-restored"
    );
}
