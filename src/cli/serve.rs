//! `kefu serve`: run the server until SIGTERM or Ctrl-C.

use crate::app::App;
use crate::config::Config;

pub async fn run(config: &Config) -> anyhow::Result<()> {
    let app = App::build(config).await?;
    tracing::info!(
        data_dir = %config.data_dir.display(),
        "kefu {} is listening on {}",
        env!("CARGO_PKG_VERSION"),
        app.url()
    );
    if let Some(token) = app.setup_token() {
        tracing::info!(
            "No account exists yet. Open {}/setup?token={token} to create the first admin \
             (the token works once), or run `kefu admin create-user --role admin`.",
            app.url()
        );
    }
    app.run_until_stopped().await
}
