//! The one typed configuration: defaults < `kefu.toml` < `KEFU_*` environment < command-line flags.

use serde::Deserialize;
use std::path::{Path, PathBuf};

pub const DEFAULT_DATA_DIR: &str = "./kefu-data";
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";
pub const DEFAULT_CONFIG_FILE: &str = "kefu.toml";

/// Everything kefu needs to know to run; built once in `main` and passed down.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where kefu keeps everything: `kefu.db`, the search index, uploads.
    pub data_dir: PathBuf,
    /// Address the web server listens on; port 0 picks a free port.
    pub bind: String,
    /// How people reach kefu (e.g. `https://help.example.com`); used in printed links.
    pub public_url: Option<String>,
    /// A `tracing` filter such as `info` or `kefu=debug,info`.
    pub log: String,
    /// Trust `X-Forwarded-For` from a reverse proxy for client addresses (rate limits, logs).
    pub trust_proxy: bool,
    /// HTTP worker threads; defaults to the number of CPUs.
    pub workers: Option<usize>,
    /// Read-only SQLite connections in the pool.
    pub db_readers: usize,
    /// Load the demo knowledge base into a data directory that has never had one.
    pub demo: bool,
    /// The sentence-embedding model: the name of one embedded in the binary, or a directory.
    pub model: String,
    /// Confidence at or above which the bot answers; `None` uses the calibrated value.
    pub answer_threshold: Option<f32>,
    /// Confidence below which the bot says it doesn't know; `None` uses the calibrated value.
    pub unknown_threshold: Option<f32>,
    /// Top encoder layers fine-tuned on the knowledge base after each retraining (0: keep the
    /// encoder frozen and train only the head).
    pub fine_tune_layers: usize,
}

/// Tuning 4 layers instead of 2 bought 0.4 (BANKING77) and 0.6 (MASSIVE zh-CN) points for
/// about 1.3× the training time: see the README's intent accuracy table
/// (`kefu --fine-tune-layers N eval intents`).
pub const DEFAULT_FINE_TUNE_LAYERS: usize = 4;

/// More layers than any supported model has; each costs training time on the CPU.
const MAX_FINE_TUNE_LAYERS: usize = 12;

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            bind: DEFAULT_BIND.to_string(),
            public_url: None,
            log: "info".to_string(),
            trust_proxy: false,
            workers: None,
            db_readers: 4,
            demo: true,
            model: crate::ml::DEFAULT_MODEL.to_string(),
            answer_threshold: None,
            unknown_threshold: None,
            fine_tune_layers: DEFAULT_FINE_TUNE_LAYERS,
        }
    }
}

/// The settings a `kefu.toml` may contain; unknown keys are an error, not silently ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub data_dir: Option<PathBuf>,
    pub bind: Option<String>,
    pub public_url: Option<String>,
    pub log: Option<String>,
    pub trust_proxy: Option<bool>,
    pub workers: Option<usize>,
    pub db_readers: Option<usize>,
    pub demo: Option<bool>,
    pub model: Option<String>,
    pub answer_threshold: Option<f32>,
    pub unknown_threshold: Option<f32>,
    pub fine_tune_layers: Option<usize>,
}

/// Values from flags or `KEFU_*` variables (clap merges those two, flags winning).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub data_dir: Option<PathBuf>,
    pub bind: Option<String>,
    pub public_url: Option<String>,
    pub log: Option<String>,
    pub trust_proxy: Option<bool>,
    pub workers: Option<usize>,
    pub demo: Option<bool>,
    pub model: Option<String>,
    pub fine_tune_layers: Option<usize>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is invalid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{setting}: {message}")]
    Invalid {
        setting: &'static str,
        message: String,
    },
}

impl Config {
    /// Reads `explicit_file` (which must exist) or else `./kefu.toml` (if present), then
    /// applies `overrides` on top.
    pub fn load(explicit_file: Option<&Path>, overrides: Overrides) -> Result<Config, ConfigError> {
        let file = match explicit_file {
            Some(path) => Some(read_file_config(path)?),
            None => {
                let default_path = Path::new(DEFAULT_CONFIG_FILE);
                if default_path.is_file() {
                    Some(read_file_config(default_path)?)
                } else {
                    None
                }
            }
        };
        let mut config = Config::default();
        if let Some(file) = file {
            config.apply_file(file);
        }
        config.apply_overrides(overrides);
        config.validate()?;
        Ok(config)
    }

    fn apply_file(&mut self, file: FileConfig) {
        let FileConfig {
            data_dir,
            bind,
            public_url,
            log,
            trust_proxy,
            workers,
            db_readers,
            demo,
            model,
            answer_threshold,
            unknown_threshold,
            fine_tune_layers,
        } = file;
        set_if_some(&mut self.fine_tune_layers, fine_tune_layers);
        set_if_some(&mut self.demo, demo);
        set_if_some(&mut self.model, model);
        self.answer_threshold = answer_threshold.or(self.answer_threshold);
        self.unknown_threshold = unknown_threshold.or(self.unknown_threshold);
        set_if_some(&mut self.data_dir, data_dir);
        set_if_some(&mut self.bind, bind);
        set_if_some(&mut self.log, log);
        set_if_some(&mut self.trust_proxy, trust_proxy);
        set_if_some(&mut self.db_readers, db_readers);
        self.public_url = public_url.or(self.public_url.take());
        self.workers = workers.or(self.workers);
    }

    fn apply_overrides(&mut self, overrides: Overrides) {
        let Overrides {
            data_dir,
            bind,
            public_url,
            log,
            trust_proxy,
            workers,
            demo,
            model,
            fine_tune_layers,
        } = overrides;
        set_if_some(&mut self.fine_tune_layers, fine_tune_layers);
        set_if_some(&mut self.demo, demo);
        set_if_some(&mut self.model, model);
        set_if_some(&mut self.data_dir, data_dir);
        set_if_some(&mut self.bind, bind);
        set_if_some(&mut self.log, log);
        set_if_some(&mut self.trust_proxy, trust_proxy);
        self.public_url = public_url.or(self.public_url.take());
        self.workers = workers.or(self.workers);
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.bind.trim().is_empty() {
            return Err(ConfigError::Invalid {
                setting: "bind",
                message: "is empty; use an address such as 127.0.0.1:8080".into(),
            });
        }
        if let Some(url) = &self.public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(ConfigError::Invalid {
                setting: "public_url",
                message: format!("{url:?} must start with http:// or https://"),
            });
        }
        if self.workers == Some(0) {
            return Err(ConfigError::Invalid {
                setting: "workers",
                message: "must be at least 1".into(),
            });
        }
        for (setting, value) in [
            ("answer_threshold", self.answer_threshold),
            ("unknown_threshold", self.unknown_threshold),
        ] {
            if value.is_some_and(|v| !(0.0..=1.0).contains(&v)) {
                return Err(ConfigError::Invalid {
                    setting,
                    message: "must be between 0 and 1".into(),
                });
            }
        }
        if let (Some(answer), Some(unknown)) = (self.answer_threshold, self.unknown_threshold)
            && answer < unknown
        {
            return Err(ConfigError::Invalid {
                setting: "answer_threshold",
                message: format!("{answer} is below unknown_threshold {unknown}"),
            });
        }
        if self.model.trim().is_empty() {
            return Err(ConfigError::Invalid {
                setting: "model",
                message: "is empty; name an embedded model or a model directory".into(),
            });
        }
        if self.fine_tune_layers > MAX_FINE_TUNE_LAYERS {
            return Err(ConfigError::Invalid {
                setting: "fine_tune_layers",
                message: format!("must be between 0 (frozen encoder) and {MAX_FINE_TUNE_LAYERS}"),
            });
        }
        if !(1..=64).contains(&self.db_readers) {
            return Err(ConfigError::Invalid {
                setting: "db_readers",
                message: "must be between 1 and 64".into(),
            });
        }
        Ok(())
    }

    /// How the assistant fine-tunes the encoder; `None` keeps it frozen.
    pub fn fine_tune_options(&self) -> Option<crate::ml::FineTuneOptions> {
        (self.fine_tune_layers > 0).then(|| crate::ml::FineTuneOptions {
            layers: self.fine_tune_layers,
            ..crate::ml::FineTuneOptions::default()
        })
    }

    /// The base URL to print for people, falling back to the bound address.
    pub fn display_url(&self, bound_port: u16) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => {
                let host = self
                    .bind
                    .rsplit_once(':')
                    .map_or("127.0.0.1", |(host, _)| host);
                let host = if host == "0.0.0.0" || host == "[::]" {
                    "127.0.0.1"
                } else {
                    host
                };
                format!("http://{host}:{bound_port}")
            }
        }
    }
}

fn set_if_some<T>(slot: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *slot = value;
    }
}

fn read_file_config(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    toml::from_str(&text).map_err(|error| ConfigError::Parse {
        path: path.to_path_buf(),
        message: error.message().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_layers_win() {
        let mut config = Config::default();
        config.apply_file(FileConfig {
            bind: Some("0.0.0.0:9000".into()),
            data_dir: Some("/srv/kefu".into()),
            ..FileConfig::default()
        });
        config.apply_overrides(Overrides {
            bind: Some("127.0.0.1:7000".into()),
            ..Overrides::default()
        });
        assert_eq!(config.bind, "127.0.0.1:7000");
        assert_eq!(config.data_dir, PathBuf::from("/srv/kefu"));
    }

    #[test]
    fn unknown_keys_in_the_file_are_rejected() {
        let parsed: Result<FileConfig, _> = toml::from_str("bnid = \"x\"");
        assert!(parsed.is_err());
    }

    #[test]
    fn display_url_prefers_public_url() {
        let config = Config {
            public_url: Some("https://help.example.com/".into()),
            ..Config::default()
        };
        assert_eq!(config.display_url(8080), "https://help.example.com");
        let config = Config {
            bind: "0.0.0.0:8080".into(),
            ..Config::default()
        };
        assert_eq!(config.display_url(8080), "http://127.0.0.1:8080");
    }
}
