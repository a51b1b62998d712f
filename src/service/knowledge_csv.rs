//! The FAQ's CSV format: decoding (UTF-8 with or without BOM, GBK/GB18030), columns by
//! header name, line-numbered validation, and export with formula neutralisation.

use crate::domain::{FaqContent, FaqEntry, FaqInput, RowError};

pub const MAX_FILE_BYTES: usize = 10 * 1024 * 1024;
pub const MAX_ROWS: usize = 20_000;
/// No single cell may exceed this, whatever its column (the per-field rules are tighter).
const MAX_CELL_CHARS: usize = 20_000;

pub const COLUMNS: [&str; 8] = [
    "question",
    "answer",
    "variants",
    "category",
    "tags",
    "language",
    "status",
    "external_id",
];
const LIST_SEPARATOR: char = '|';

/// A row that passed validation, with the line it starts on.
#[derive(Debug, Clone)]
pub struct CsvRow {
    pub line: u64,
    pub content: FaqContent,
}

/// Decodes the file: UTF-8 (a BOM is dropped), else GB18030 (a superset of GBK, which is
/// what Chinese Excel writes).
pub fn decode(bytes: &[u8]) -> Result<String, RowError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(text.to_string()),
        Err(utf8_error) => {
            let (text, had_errors) = encoding_rs::GB18030.decode_without_bom_handling(bytes);
            if had_errors {
                let before = &bytes[..utf8_error.valid_up_to()];
                let line = 1 + before.iter().filter(|b| **b == b'\n').count() as u64;
                return Err(RowError {
                    line,
                    message: "undecodable bytes: save the file as UTF-8 (or GBK/GB18030)".into(),
                });
            }
            Ok(text.into_owned())
        }
    }
}

/// One non-blank record of an imported file: its line and its cells by column name.
pub(crate) struct CsvRecord {
    pub(crate) line: u64,
    cells: Vec<(&'static str, String)>,
}

impl CsvRecord {
    /// The cell of `column` (empty when the file has no such column), its formula guard removed.
    pub(crate) fn cell(&self, column: &str) -> String {
        self.cells
            .iter()
            .find(|(name, _)| *name == column)
            .map(|(_, value)| value.clone())
            .unwrap_or_default()
    }
}

/// What the FAQ and catalog imports share: the size limit, decoding, the header check
/// against `columns` (with the `required` ones), and every record with its line; records
/// that are not valid CSV, have an overlong cell or pass the row limit are problems with
/// their line. Blank records are skipped.
pub(crate) fn read_records(
    bytes: &[u8],
    columns: &[&'static str],
    required: &[&str],
) -> Result<(Vec<CsvRecord>, Vec<RowError>), Vec<RowError>> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(vec![RowError {
            line: 0,
            message: format!(
                "the file is {} bytes; at most {MAX_FILE_BYTES} bytes (10 MiB) — split it",
                bytes.len()
            ),
        }]);
    }
    let text = decode(bytes).map_err(|e| vec![e])?;
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(text.as_bytes());
    let header = reader
        .headers()
        .map_err(|e| vec![csv_error(1, &e)])?
        .clone();
    let positions = column_positions(&header, columns, required)?;
    let mut records = Vec::new();
    let mut errors = Vec::new();
    for record in reader.records() {
        let record = match record {
            Ok(record) => record,
            Err(error) => {
                let line = error.position().map_or(0, |p| p.line());
                errors.push(csv_error(line, &error));
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        if records.len() + errors.len() >= MAX_ROWS {
            errors.push(RowError {
                line,
                message: format!("the file has more than {MAX_ROWS} rows; split it"),
            });
            break;
        }
        if record.iter().all(|cell| cell.trim().is_empty()) {
            continue;
        }
        let cells: Vec<(&'static str, String)> = positions
            .iter()
            .map(|(column, index)| {
                (
                    *column,
                    record.get(*index).map(unneutralize).unwrap_or_default(),
                )
            })
            .collect();
        if let Some((long, _)) = cells
            .iter()
            .find(|(_, value)| value.chars().count() > MAX_CELL_CHARS)
        {
            errors.push(RowError {
                line,
                message: format!("{long}: is longer than {MAX_CELL_CHARS} characters"),
            });
            continue;
        }
        records.push(CsvRecord { line, cells });
    }
    Ok((records, errors))
}

/// Reads and checks every row; returns all problems found, each with its line number.
pub fn parse(bytes: &[u8]) -> Result<Vec<CsvRow>, Vec<RowError>> {
    let (records, mut errors) = read_records(bytes, &COLUMNS, &["question", "answer"])?;
    let mut rows = Vec::new();
    let mut seen_external_ids: std::collections::HashMap<String, u64> = Default::default();
    let mut seen_questions: std::collections::HashMap<(String, String), u64> = Default::default();
    for record in records {
        let line = record.line;
        let cell = |name: &str| record.cell(name);
        let input = FaqInput {
            question: cell("question"),
            variants: split_list(&cell("variants")),
            answer: cell("answer"),
            category: cell("category"),
            tags: split_list(&cell("tags")),
            language: cell("language"),
            status: cell("status"),
            external_id: cell("external_id"),
        };
        match FaqContent::parse(input) {
            Ok(content) => {
                if let Some(external_id) = &content.external_id
                    && let Some(first) = seen_external_ids.insert(external_id.clone(), line)
                {
                    errors.push(RowError {
                        line,
                        message: format!("external_id {external_id:?} is also on line {first}"),
                    });
                    continue;
                }
                let key = (
                    content.language.as_str().to_string(),
                    content.question_key(),
                );
                if content.external_id.is_none()
                    && let Some(first) = seen_questions.insert(key, line)
                {
                    errors.push(RowError {
                        line,
                        message: format!("the same question is also on line {first}"),
                    });
                    continue;
                }
                rows.push(CsvRow { line, content });
            }
            Err(problems) => errors.extend(problems.into_iter().map(|problem| RowError {
                line,
                message: problem.to_string(),
            })),
        }
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(errors)
    }
}

/// Where each known column is in the header; every unknown, repeated or missing required
/// column is a line-1 problem.
pub(crate) fn column_positions(
    header: &csv::StringRecord,
    columns: &[&'static str],
    required: &[&str],
) -> Result<Vec<(&'static str, usize)>, Vec<RowError>> {
    let mut positions = Vec::new();
    let mut errors = Vec::new();
    for (index, name) in header.iter().enumerate() {
        let name = name.trim().to_ascii_lowercase();
        match columns.iter().find(|column| **column == name) {
            Some(column) if positions.iter().any(|(c, _)| c == column) => errors.push(RowError {
                line: 1,
                message: format!("column {name:?} appears twice"),
            }),
            Some(column) => positions.push((*column, index)),
            None => errors.push(RowError {
                line: 1,
                message: format!(
                    "unknown column {name:?}; the columns are {}",
                    columns.join(", ")
                ),
            }),
        }
    }
    for required in required {
        if !positions.iter().any(|(column, _)| column == required) {
            errors.push(RowError {
                line: 1,
                message: format!("the header has no {required:?} column"),
            });
        }
    }
    if errors.is_empty() {
        Ok(positions)
    } else {
        Err(errors)
    }
}

pub(crate) fn csv_error(line: u64, error: &csv::Error) -> RowError {
    let message = match error.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("has {len} fields but the header has {expected_len}"),
        _ => format!("is not valid CSV ({error})"),
    };
    RowError { line, message }
}

pub(crate) fn split_list(cell: &str) -> Vec<String> {
    cell.split(LIST_SEPARATOR)
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_string)
        .collect()
}

/// Spreadsheets run cells that start with `= + - @` (and tab, CR) as formulas. Export
/// prefixes such cells with `'`, and also cells that already start with `'`, so that
/// import can always remove exactly one leading `'` and get the original back.
pub(crate) fn neutralize(cell: &str) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r', '\'']) {
        format!("'{cell}")
    } else {
        cell.to_string()
    }
}

pub(crate) fn unneutralize(cell: &str) -> String {
    cell.strip_prefix('\'').unwrap_or(cell).to_string()
}

/// The export file: the same columns import reads, UTF-8 with a BOM so Excel opens it right.
pub fn write(entries: &[FaqEntry]) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
    writer.write_record(COLUMNS)?;
    for entry in entries {
        let content = &entry.content;
        let cells = [
            content.question.clone(),
            content.answer_markdown.clone(),
            content.variants.join("|"),
            content.category.clone(),
            content.tags.join("|"),
            content.language.as_str().to_string(),
            content.status.as_str().to_string(),
            content.external_id.clone().unwrap_or_default(),
        ];
        writer.write_record(cells.iter().map(|cell| neutralize(cell)))?;
    }
    writer
        .into_inner()
        .map_err(|error| csv::Error::from(error.into_error()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_neutralisation_round_trips() {
        for cell in [
            "=1+1",
            "- item",
            "@home",
            "'quoted",
            "''",
            "plain",
            "+86 10 1234",
        ] {
            assert_eq!(unneutralize(&neutralize(cell)), cell);
            assert!(!neutralize(cell).starts_with(['=', '+', '-', '@']));
        }
    }

    #[test]
    fn gbk_is_decoded() {
        let (gbk, _, _) = encoding_rs::GBK.encode("question,answer\n退货,七天无理由\n");
        assert_eq!(
            decode(&gbk).expect("decodes"),
            "question,answer\n退货,七天无理由\n"
        );
    }

    #[test]
    fn header_problems_are_reported_on_line_1() {
        let errors = parse(b"question,anwser\nq,a\n").expect_err("bad header");
        let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert!(
            messages[0].starts_with("line 1: unknown column \"anwser\""),
            "{messages:?}"
        );
        assert!(messages[1].contains("no \"answer\" column"), "{messages:?}");
    }
}
