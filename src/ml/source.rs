//! Where a model's files come from (embedded in the binary or a directory) and how kefu uses
//! the model (`kefu-model.toml`, or defaults guessed from the folder name).

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::MlError;

/// `models/` is compiled into release builds; debug builds read it from disk, so a debug build
/// needs the source tree but starts without a 100 MB compile step.
#[derive(rust_embed::RustEmbed)]
#[folder = "models/"]
struct EmbeddedModels;

const CONFIG_FILE: &str = "config.json";
const WEIGHTS_FILE: &str = "model.safetensors";
const TOKENIZER_FILE: &str = "tokenizer.json";
const SETTINGS_FILE: &str = "kefu-model.toml";

/// The default token budget: enough for a FAQ answer paragraph, and attention cost grows with
/// the square of the length.
const DEFAULT_MAX_TOKENS: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSource {
    /// A folder under `models/`, compiled into the binary, by name.
    Embedded(String),
    /// A folder on disk holding the same files.
    Directory(PathBuf),
}

impl ModelSource {
    /// An existing directory is a `Directory`; anything else names an embedded model (and
    /// fails on load if there is none, listing the ones there are).
    pub fn parse(name_or_dir: &str) -> ModelSource {
        let path = Path::new(name_or_dir);
        if path.is_dir() {
            ModelSource::Directory(path.to_path_buf())
        } else {
            ModelSource::Embedded(name_or_dir.to_string())
        }
    }
}

/// The names of the models compiled into this binary, sorted.
pub fn embedded_model_names() -> Vec<String> {
    let mut names: Vec<String> = EmbeddedModels::iter()
        .filter_map(|path| path.split_once('/').map(|(folder, _)| folder.to_string()))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// How kefu feeds texts to a model; see the module documentation of `ml`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ModelSettings {
    #[serde(default)]
    pub query_prefix: String,
    #[serde(default)]
    pub passage_prefix: String,
    #[serde(default = "default_max_tokens")]
    pub max_tokens: usize,
    #[serde(default)]
    pub layer_weights: LayerWeights,
}

/// How the fast encoder keeps its layers' matrices (`layer_weights` in the settings file).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
pub(super) enum LayerWeights {
    /// i8 codes with a scale per row (`codes.rs`): half the bytes of f16 and integer
    /// products. A setting of the model rather than a default because its rounding suits
    /// some checkpoints better than others: on e5 the vectors stay within cosine 0.9998 of
    /// the f32 reference, on all-MiniLM-L6-v2 an empty text's moves to 0.996.
    #[serde(rename = "i8")]
    Coded,
    /// As the weights file has them (f16 / f32).
    #[default]
    #[serde(rename = "as-stored")]
    AsStored,
}

fn default_max_tokens() -> usize {
    DEFAULT_MAX_TOKENS
}

impl ModelSettings {
    /// e5 models were trained with "query: " / "passage: " before their inputs and lose
    /// accuracy without them; other sentence-transformers models take raw text.
    pub(super) fn guess_from_name(model_id: &str) -> ModelSettings {
        let is_e5 = model_id
            .split(['-', '_', '.'])
            .any(|part| part.eq_ignore_ascii_case("e5"));
        let (query_prefix, passage_prefix) = if is_e5 {
            ("query: ", "passage: ")
        } else {
            ("", "")
        };
        ModelSettings {
            query_prefix: query_prefix.to_string(),
            passage_prefix: passage_prefix.to_string(),
            max_tokens: DEFAULT_MAX_TOKENS,
            layer_weights: LayerWeights::AsStored,
        }
    }

    fn parse(model_id: &str, bytes: &[u8]) -> Result<ModelSettings, MlError> {
        let bad = |reason: String| MlError::BadConfig {
            model: model_id.to_string(),
            reason: format!("{SETTINGS_FILE}: {reason}"),
        };
        let text = std::str::from_utf8(bytes).map_err(|error| bad(error.to_string()))?;
        let settings: ModelSettings =
            toml::from_str(text).map_err(|error| bad(error.to_string()))?;
        if settings.max_tokens < 2 {
            return Err(bad(
                "max_tokens must leave room for the special tokens".to_string()
            ));
        }
        Ok(settings)
    }
}

/// The raw files of one model, borrowed from the binary where possible.
pub(super) struct ModelFiles {
    pub model_id: String,
    pub config: Cow<'static, [u8]>,
    pub weights: Cow<'static, [u8]>,
    pub weights_sha256: String,
    pub tokenizer: Cow<'static, [u8]>,
    pub settings: ModelSettings,
}

impl ModelFiles {
    pub fn read(source: &ModelSource) -> Result<ModelFiles, MlError> {
        match source {
            ModelSource::Embedded(name) => read_embedded(name),
            ModelSource::Directory(dir) => read_directory(dir),
        }
    }
}

fn read_embedded(name: &str) -> Result<ModelFiles, MlError> {
    let known = embedded_model_names();
    // A name with a slash could reach a file inside another folder; only folder names count.
    if !known.iter().any(|known_name| known_name == name) {
        return Err(MlError::UnknownModel {
            name: name.to_string(),
            known: if known.is_empty() {
                "none in this build".to_string()
            } else {
                known.join(", ")
            },
        });
    }
    let file = |file: &'static str| {
        EmbeddedModels::get(&format!("{name}/{file}")).ok_or_else(|| MlError::MissingFile {
            dir: PathBuf::from(format!("<embedded>/{name}")),
            file,
        })
    };
    let weights = file(WEIGHTS_FILE)?;
    let settings = match EmbeddedModels::get(&format!("{name}/{SETTINGS_FILE}")) {
        Some(settings) => ModelSettings::parse(name, &settings.data)?,
        None => ModelSettings::guess_from_name(name),
    };
    Ok(ModelFiles {
        model_id: name.to_string(),
        config: file(CONFIG_FILE)?.data,
        // rust-embed hashes at compile time in release builds: no 100 MB hash at start-up.
        weights_sha256: hex::encode(weights.metadata.sha256_hash()),
        weights: weights.data,
        tokenizer: file(TOKENIZER_FILE)?.data,
        settings,
    })
}

fn read_directory(dir: &Path) -> Result<ModelFiles, MlError> {
    let model_id = dir
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| dir.display().to_string());
    let read = |file: &'static str| -> Result<Cow<'static, [u8]>, MlError> {
        let path = dir.join(file);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Cow::Owned(bytes)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                Err(MlError::MissingFile {
                    dir: dir.to_path_buf(),
                    file,
                })
            }
            Err(source) => Err(MlError::Read { path, source }),
        }
    };
    // Check every required file before reading the large one, so a half-copied folder
    // fails fast with the name of what is missing.
    for file in [CONFIG_FILE, TOKENIZER_FILE, WEIGHTS_FILE] {
        if !dir.join(file).is_file() {
            return Err(MlError::MissingFile {
                dir: dir.to_path_buf(),
                file,
            });
        }
    }
    let settings = if dir.join(SETTINGS_FILE).is_file() {
        ModelSettings::parse(&model_id, &read(SETTINGS_FILE)?)?
    } else {
        ModelSettings::guess_from_name(&model_id)
    };
    let weights = read(WEIGHTS_FILE)?;
    Ok(ModelFiles {
        weights_sha256: hex::encode(Sha256::digest(&weights)),
        config: read(CONFIG_FILE)?,
        tokenizer: read(TOKENIZER_FILE)?,
        weights,
        model_id,
        settings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layer_weights_setting_parses_and_a_wrong_one_is_named() {
        let coded = ModelSettings::parse("m", b"layer_weights = \"i8\"").expect("parses");
        assert_eq!(coded.layer_weights, LayerWeights::Coded);
        let stored = ModelSettings::parse("m", b"max_tokens = 64").expect("parses");
        assert_eq!(stored.layer_weights, LayerWeights::AsStored);
        let error = ModelSettings::parse("m", b"layer_weights = \"int4\"")
            .expect_err("refused")
            .to_string();
        assert!(
            error.contains("kefu-model.toml") && error.contains("int4"),
            "{error}"
        );
    }
}
